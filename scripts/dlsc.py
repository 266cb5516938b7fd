#!/usr/bin/python3
"""Reads a dlspec checkpoint (.dlsc, docs/checkpoint-format.md) and loads it into PyTorch.

    import dlsc
    ck = dlsc.read("runs/lenet/ckpt-000008.dlsc")   # ck.header (dict), ck.tensors {name: numpy array}
    model.load_state_dict(dlsc.state_dict(ck, model))  # the same network written in torch.nn

    /usr/bin/python3 scripts/dlsc.py FILE.dlsc      # prints the header and every tensor's name and shape

dlspec names its layers by op (`conv2d_1.weight`); a torch.nn module names them by attribute (`conv1.weight`).
`state_dict` pairs the two in order: the checkpoint's values (optimizer state left out) with the module's
parameters and buffers in registration order (`num_batches_tracked` left out, dlspec keeps none), checking
that every shape agrees. Nothing here depends on torch but `state_dict`.
"""
import struct
import sys
import zlib

import numpy as np

MAGIC = b"DLSCKPT\0"


class Checkpoint:
    def __init__(self, header, tensors):
        self.header = header    # version, layout_hash, epoch, global_step, updates, rng_seed, (version 2) made_by, (version 3) its precision, (version 4) plateau and validation metrics, (version 5) early stopping and best-checkpoint state, (version 6) named settings
        self.tensors = tensors  # name -> float32 array, in file order

    def values(self):
        """The parameters' values (running statistics included), without optimizer state (`NAME#k`)."""
        return {k: v for k, v in self.tensors.items() if "#" not in k}


class FormatError(ValueError):
    pass


def read(path):
    with open(path, "rb") as f:
        buf = f.read()
    if len(buf) < 16 or buf[:8] != MAGIC:
        raise FormatError(f"{path}: not a dlspec checkpoint (bad magic)")
    (stored,) = struct.unpack_from("<I", buf, len(buf) - 4)
    if zlib.crc32(buf[:-4]) & 0xFFFFFFFF != stored:
        raise FormatError(f"{path}: CRC mismatch")
    pos = 8

    def take(fmt):
        nonlocal pos
        vals = struct.unpack_from("<" + fmt, buf, pos)
        pos += struct.calcsize("<" + fmt)
        return vals

    (version,) = take("I")
    if version not in (1, 2, 3, 4, 5, 6):
        raise FormatError(f"{path}: format version {version} (this reader reads 1 to 6)")
    layout_hash, epoch, global_step, updates, seed = take("QqqqQ")
    header = dict(version=version, layout_hash=layout_hash, epoch=epoch, global_step=global_step,
                  updates=updates, rng_seed=seed)
    if version >= 2:
        kind, lr, momentum, beta1, beta2, eps, wd, nesterov, batch, structure, data = take("i6diqQQ")
        names = ["sgd", "adam", "adamw", "rmsprop", "adadelta", "nadam", "adagrad", "lamb"]
        header["made_by"] = dict(optimizer=names[kind] if 0 <= kind < len(names) else kind,
                                 lr=lr, momentum=momentum, beta1=beta1, beta2=beta2, eps=eps, weight_decay=wd,
                                 nesterov=bool(nesterov), batch=batch, structure_hash=structure, data_fingerprint=data)
    if version >= 3:
        (precision,) = take("i")
        header["made_by"]["precision"] = {0: "f32", 3: "f16", 4: "bf16"}.get(precision, precision)
    if version >= 4:
        plateau, plr, pbest, pbad, pcool, val_loss, val_acc = take("iddqqdd")
        header["made_by"]["plateau"] = dict(monitor=plateau, lr=plr, best=pbest, bad=pbad, cooldown_left=pcool) if plateau else None
        header["val_loss"], header["val_acc"] = val_loss, val_acc
    if version >= 5:
        stop, sbest, sbest_epoch, sbad, bmetric, bvalue, bepoch = take("idqqidq")
        header["made_by"]["stop"] = dict(monitor=stop, best=sbest, best_epoch=sbest_epoch, bad=sbad) if stop else None
        header["made_by"]["best_checkpoint"] = dict(metric=bmetric, value=bvalue, epoch=bepoch) if bmetric else None
    if version >= 6:
        # accumulate, clip, schedule, plateau, stop, and the metrics the rules watch (stop.monitor, ...)
        (n,) = take("I")
        settings = {}
        for _ in range(n):
            pair = []
            for _ in range(2):
                (k,) = take("I")
                if k > 4096:
                    raise FormatError(f"{path}: a setting of {k} bytes")
                pair.append(buf[pos:pos + k].decode("utf-8"))
                pos += k
            settings[pair[0]] = pair[1]
        header["made_by"]["settings"] = settings
    (count,) = take("I")
    tensors = {}
    for _ in range(count):
        (n,) = take("I")
        if n > 4096:
            raise FormatError(f"{path}: a tensor name of {n} bytes")
        name = buf[pos:pos + n].decode("utf-8")
        pos += n
        (rank,) = take("i")
        dims = take("4q")
        (numel,) = take("q")
        shape = tuple(dims[:rank])
        if int(np.prod(shape, dtype=np.int64)) != numel:
            raise FormatError(f"{path}: '{name}' has shape {shape} but {numel} values")
        tensors[name] = np.frombuffer(buf, dtype="<f4", count=numel, offset=pos).reshape(shape).copy()
        pos += 4 * numel
    if pos != len(buf) - 4:
        raise FormatError(f"{path}: {len(buf) - 4 - pos} trailing bytes")
    return Checkpoint(header, tensors)


def state_dict(ck, module):
    """A state_dict for `module` (torch.nn) from the checkpoint's values, paired in order and shape-checked."""
    import torch

    if isinstance(ck, str):
        ck = read(ck)
    ours = list(ck.values().items())
    theirs = [(k, v) for k, v in module.state_dict().items() if not k.endswith("num_batches_tracked")]
    if len(ours) != len(theirs):
        raise ValueError(f"the checkpoint holds {len(ours)} values, the module {len(theirs)}: "
                         f"{[k for k, _ in ours]} vs {[k for k, _ in theirs]}")
    out = dict(module.state_dict())
    for (dk, dv), (tk, tv) in zip(ours, theirs):
        if tuple(dv.shape) != tuple(tv.shape):
            raise ValueError(f"'{dk}' {tuple(dv.shape)} does not fit '{tk}' {tuple(tv.shape)}")
        out[tk] = torch.from_numpy(dv.copy()).to(tv.dtype)
    return out


def main():
    if len(sys.argv) != 2:
        print(__doc__.strip().splitlines()[0])
        print("usage: dlsc.py FILE.dlsc")
        return 2
    ck = read(sys.argv[1])
    for k, v in ck.header.items():
        print(f"{k}: {v}")
    for k, v in ck.tensors.items():
        print(f"{k} {list(v.shape)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
