#!/usr/bin/python3
"""The recurrent twins of dlsprog.py (what the op walk compares the compiled layers with) against torch.nn itself:
  - rec_fwd for torch.nn's cells (layers, bidirectional, output: last) is torch's own kernel (_VF), and the
    written-out cells (rec_cell: the ones torch.nn lacks, and padded sequences) give the same outputs;
  - a padded sequence (embedding's mask_token) with right padding is torch's pack_padded_sequence, the layer,
    pad_packed_sequence (and h_n for output: last) for every cell, layer count and direction.
Fails (exit 1) on a difference above 1e-5."""
import os
import sys

import torch
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import dlsprog as D  # noqa: E402


def main():
    torch.manual_seed(1)
    worst = 0.0
    bad = []
    for op, mod in (("lstm", torch.nn.LSTM), ("gru", torch.nn.GRU), ("rnn", torch.nn.RNN)):
        for bidi in (False, True):
            for layers in (1, 2, 3):
                for bias in (True, False):
                    a = dict(units=3, layers=layers, bidirectional=bidi, bias=bias)
                    m = mod(4, 3, num_layers=layers, bidirectional=bidi, bias=bias, batch_first=True)
                    ps = {}
                    for l, d, sfx in D.rec_names(a):
                        for k in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
                            name = "%s_l%d%s" % (k, l, "_reverse" if d else "")
                            if hasattr(m, name):
                                ps[k + sfx] = getattr(m, name).detach()
                    x = torch.randn(3, 5, 4)
                    lens = torch.tensor([5, 2, 3])
                    tok = torch.ones(3, 5, dtype=torch.long)
                    for i, n in enumerate(lens):
                        tok[i, n:] = 0
                    with torch.no_grad():
                        full, hf = m(x)
                        packed, hp = m(pack_padded_sequence(x, lens, batch_first=True, enforce_sorted=False))
                        packed, _ = pad_packed_sequence(packed, batch_first=True, total_length=5)
                    hf = hf[0] if op == "lstm" else hf
                    hp = hp[0] if op == "lstm" else hp
                    lastf = torch.cat([hf[-2], hf[-1]], 1) if bidi else hf[-1]
                    lastp = torch.cat([hp[-2], hp[-1]], 1) if bidi else hp[-1]
                    cases = [("torch kernel", D.rec_fwd(op)(a, [x], ps, True), full),
                             ("torch kernel, last", D.rec_fwd(op)(dict(a, output="last"), [x], ps, True), lastf),
                             ("padded", D.rec_fwd(op)(dict(a, _mask=(tok, 0)), [x], ps, True), packed),
                             ("padded, last", D.rec_fwd(op)(dict(a, _mask=(tok, 0), output="last"), [x], ps, True), lastp)]
                    # the written-out cells without a mask: pad nothing
                    cases.append(("written", D.rec_fwd(op)(dict(a, _mask=(tok, 7)), [x], ps, True), full))
                    for what, got, want in cases:
                        err = float((got - want).abs().max())
                        worst = max(worst, err)
                        if err > 1e-5:
                            bad.append(f"{op} layers {layers} bidirectional {bidi} bias {bias} {what}: {err:.3g}")
    for b in bad:
        print("FAIL", b)
    print(f"{'FAIL' if bad else 'PASS'}: recurrent twins against torch.nn, worst difference {worst:.3g}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
