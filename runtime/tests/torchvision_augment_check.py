#!/usr/bin/python3
"""The augmentation kernels of runtime/data/Pipeline.cpp against torchvision 0.14's functional ops.

For random float images in [0, 1] (RGB and grey, square and not) and random parameters, dlspec_augment_dump runs
one kernel and torchvision.transforms.functional the op it implements on the same parameters:
  affine(angle, translate, scale, shear, BILINEAR, fill) and rotate(angle, BILINEAR, fill) (= affine(-angle)),
  adjust_brightness, adjust_contrast, adjust_saturation, adjust_hue, erase.
Tolerance: torchvision computes the sampling grid and the blends in float32, dlspec the grid in double; a grid
coordinate off by float32's rounding (about 1e-6 pixels on these sizes) moves a bilinear value by at most that
times the largest step between neighbouring pixels (< 1), so 1e-4 absolute on values in [0, 1] bounds it with
margin. The colour ops compute in float32 as torchvision does; contrast's mean is a sum in another order (1e-6).
The hue round trip (RGB -> HSV -> RGB) is float32 in both.

usage: torchvision_augment_check.py DUMP WORKDIR
"""
import os, shutil, subprocess, sys
import numpy as np
import torch
import torchvision
import torchvision.transforms.functional as TF
from torchvision.transforms import InterpolationMode

TOL = 1e-4


def run(dump, work, op, img, params):
    c, h, w = img.shape
    src, dst = os.path.join(work, "in.f32"), os.path.join(work, "out.f32")
    img.numpy().astype("<f4").tofile(src)
    r = subprocess.run([dump, op, str(c), str(h), str(w), src, dst] + [repr(float(p)) for p in params],
                       capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError(f"{op}: {r.stderr}")
    return torch.from_numpy(np.fromfile(dst, dtype="<f4").reshape(c, h, w))


def main():
    if len(sys.argv) != 3:
        print(__doc__)
        return 2
    dump, work = sys.argv[1], sys.argv[2]
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    print(f"torchvision {torchvision.__version__}, torch {torch.__version__}")
    g = torch.Generator().manual_seed(0)
    worst, ok, cases = {}, True, 0

    def compare(name, got, want):
        nonlocal ok, cases
        e = float((got - want).abs().max())
        worst[name] = max(worst.get(name, 0.0), e)
        cases += 1
        if not e <= TOL:
            ok = False
            print(f"{name}: max abs error {e:.2e} MISMATCH")

    shapes = [(3, 16, 16), (3, 12, 20), (1, 28, 28), (3, 9, 7)]
    for trial in range(12):
        for c, h, w in shapes:
            img = torch.rand(c, h, w, generator=g)
            u = lambda lo, hi: float(lo + (hi - lo) * torch.rand(1, generator=g))
            # rotation: torchvision's RandomRotation passes fill as one value per channel (the blended mask path)
            angle, fill = u(-45, 45), u(0, 1)
            want = TF.rotate(img, angle, interpolation=InterpolationMode.BILINEAR, fill=[fill] * c)
            compare("rotate", run(dump, work, "affine", img, [-angle, 0, 0, 1, 0, 0, fill]), want)
            # affine: whole-pixel translation (RandomAffine rounds it), scale, x shear
            angle, tx, ty, sc, sh = u(-30, 30), round(u(-3, 3)), round(u(-3, 3)), u(0.7, 1.3), u(-20, 20)
            want = TF.affine(img, angle, [tx, ty], sc, [sh, 0.0], interpolation=InterpolationMode.BILINEAR, fill=[0.0] * c)
            compare("affine", run(dump, work, "affine", img, [angle, tx, ty, sc, sh, 0, 0]), want)
            f = u(0, 2)
            compare("brightness", run(dump, work, "brightness", img, [f]), TF.adjust_brightness(img, f))
            f = u(0, 2)
            compare("contrast", run(dump, work, "contrast", img, [f]), TF.adjust_contrast(img, f))
            if c == 3:
                f = u(0, 2)
                compare("saturation", run(dump, work, "saturation", img, [f]), TF.adjust_saturation(img, f))
                f = u(-0.5, 0.5)
                compare("hue", run(dump, work, "hue", img, [f]), TF.adjust_hue(img, f))
            i, j = int(torch.randint(0, h - 2, (1,), generator=g)), int(torch.randint(0, w - 2, (1,), generator=g))
            eh, ew, v = int(torch.randint(1, h - i, (1,), generator=g)), int(torch.randint(1, w - j, (1,), generator=g)), u(0, 1)
            compare("erase", run(dump, work, "erase", img, [i, j, eh, ew, v]),
                    TF.erase(img, i, j, eh, ew, torch.tensor(v)))
    for name, e in worst.items():
        print(f"{name:10s} worst max abs error {e:.2e}")
    print(f"{cases} comparisons, tolerance {TOL}: {'PASS' if ok else 'FAIL'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
