// Forward values of the Darknet ops (reorg, ramp, local) on small hand-computed cases and against reference
// loops written from runtime.h's index formulas; malformed descriptions end as R0504. Their gradients are
// checked by finite differences in test_grad.cpp.
#include <catch2/catch.hpp>

#include <cmath>
#include <vector>

#include "core/Rng.h"
#include "core/Runtime.h"

using namespace dls;

namespace {

struct OpRun {
  std::unique_ptr<dls_rt> rt = make_runtime(1);
  OpRun() {
    dls_rt_train_config(rt.get(), 1, 1, 7);
    dls_rt_arena(rt.get(), 0);
  }
  int tensor(std::vector<int64_t> d) {
    int rank = int(d.size());
    d.resize(4, 1);
    return dls_rt_tensor(rt.get(), DLS_F32, rank, d[0], d[1], d[2], d[3], -1);
  }
  int tensor(std::vector<int64_t> d, const std::vector<float>& v) {
    int id = tensor(std::move(d));
    write_tensor(rt.get(), id, v.data(), v.size() * 4);
    return id;
  }
  // Creates the op; returns its id, or -1 when the runtime refused it (the fault is kept in rt->error).
  int op(int opcode, const std::vector<int>& ts, const std::vector<double>& attrs) {
    int id = dls_rt_op(rt.get(), opcode, ts.data(), int(ts.size()), attrs.data(), int(attrs.size()), 3, 5);
    return rt->error ? -1 : id;
  }
  std::vector<float> run(int opcode, const std::vector<int>& ts, const std::vector<double>& attrs) {
    int id = op(opcode, ts, attrs);
    raise_pending(rt.get());
    dls_rt_fwd(rt.get(), id);
    raise_pending(rt.get());
    return read_tensor(rt.get(), ts.back());
  }
};

std::vector<float> iota(size_t n) {
  std::vector<float> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = float(i);
  return v;
}
std::vector<float> randoms(size_t n, uint64_t seed) {
  Rng rng{seed};
  std::vector<float> v(n);
  for (auto& x : v) x = float(2 * rng.uniform() - 1);
  return v;
}

}  // namespace

TEST_CASE("ramp forward: max(x, 0) + 0.1 x", "[ops]") {
  OpRun r;
  int x = r.tensor({1, 5}, {-2.f, -0.5f, 0.f, 0.5f, 3.f}), y = r.tensor({1, 5});
  std::vector<float> got = r.run(DLS_OP_RAMP, {x, y}, {});
  std::vector<float> want = {-0.2f, -0.05f, 0.f, 0.55f, 3.3f};
  for (size_t i = 0; i < want.size(); ++i) CHECK(got[i] == Approx(want[i]).margin(1e-7));
}

TEST_CASE("ramp backward: dy * 1.1 where x > 0, dy * 0.1 elsewhere (x = 0 included)", "[ops]") {
  OpRun r;
  int x = r.tensor({1, 4}, {-1.f, 0.f, 1e-3f, 2.f}), y = r.tensor({1, 4}), dy = r.tensor({4}, {1.f, 1.f, 1.f, -2.f});
  int dx = r.tensor({1, 4});
  int op = r.op(DLS_OP_RAMP, {x, y}, {});
  REQUIRE(op >= 0);
  int dins[2] = {dx, -1};
  int g = dls_rt_grad_op(r.rt.get(), op, dy, dins, 1, 0);
  dls_rt_fwd(r.rt.get(), op);
  dls_rt_bwd(r.rt.get(), g);
  raise_pending(r.rt.get());
  std::vector<float> got = read_tensor(r.rt.get(), dx);
  std::vector<float> want = {0.1f, 0.1f, 1.1f, -2.2f};
  for (size_t i = 0; i < want.size(); ++i) CHECK(got[i] == Approx(want[i]).margin(1e-6));
}

TEST_CASE("reorg forward: darknet's order, not the standard space-to-depth", "[ops]") {
  // x = 0..15 as [1, 4, 2, 2], stride 2: darknet reads it as [1, 1, 4, 4] and moves each 2x2 block offset
  // (dy, dx) to channel 2*dy + dx of a [1, 4, 2, 2] view, which is the [1, 16, 1, 1] output.
  OpRun r;
  int x = r.tensor({1, 4, 2, 2}, iota(16)), y = r.tensor({1, 16, 1, 1});
  std::vector<float> got = r.run(DLS_OP_REORG, {x, y}, {2, 0});
  std::vector<float> want = {0, 2, 8, 10, 1, 3, 9, 11, 4, 6, 12, 14, 5, 7, 13, 15};
  CHECK(got == want);
  // The standard space-to-depth would start with x[0, 0, 0, 0], x[0, 1, 0, 0]... per block: not this.
  CHECK(got[1] != 4.f);
}

TEST_CASE("reorg forward equals darknet's reorg_cpu(x, w, h, c, batch, stride, forward = 0, out)", "[ops]") {
  const int64_t N = 2, C = 18, H = 6, W = 3, s = 3;
  std::vector<float> xv = randoms(size_t(N * C * H * W), 11), ref(xv.size());
  // blas.c reorg_cpu, as forward_reorg_layer calls it with reverse = 0 (w, h, c: the input's).
  const int64_t out_c = C / (s * s);
  for (int64_t b = 0; b < N; ++b)
    for (int64_t k = 0; k < C; ++k)
      for (int64_t j = 0; j < H; ++j)
        for (int64_t i = 0; i < W; ++i) {
          int64_t in_index = i + W * (j + H * (k + C * b));
          int64_t c2 = k % out_c, offset = k / out_c;
          int64_t w2 = i * s + offset % s, h2 = j * s + offset / s;
          int64_t out_index = w2 + W * s * (h2 + H * s * (c2 + out_c * b));
          ref[size_t(in_index)] = xv[size_t(out_index)];
        }
  OpRun r;
  int x = r.tensor({N, C, H, W}, xv), y = r.tensor({N, C * s * s, H / s, W / s});
  CHECK(r.run(DLS_OP_REORG, {x, y}, {double(s), 0}) == ref);
}

TEST_CASE("reorg with extra: each sample flat, then zeros", "[ops]") {
  OpRun r;
  int x = r.tensor({2, 1, 1, 3}, {1, 2, 3, 4, 5, 6});
  int y = r.tensor({2, 5}, std::vector<float>(10, 9.f));  // stale values must be overwritten
  std::vector<float> want = {1, 2, 3, 0, 0, 4, 5, 6, 0, 0};
  CHECK(r.run(DLS_OP_REORG, {x, y}, {2, 2}) == want);
}

TEST_CASE("local forward: one weight per output position (1x1 window)", "[ops]") {
  OpRun r;
  int x = r.tensor({1, 1, 2, 2}, {10, 20, 30, 40});
  int w = r.tensor({4, 1, 1, 1}, {1, 2, 3, 4});
  int b = r.tensor({1, 2, 2}, {0.5f, 0.5f, 0.5f, 0.5f});
  int y = r.tensor({1, 1, 2, 2});
  std::vector<float> want = {10.5f, 40.5f, 90.5f, 160.5f};
  CHECK(r.run(DLS_OP_LOCAL, {x, w, b, y}, {1, 1, 0, 0, 0, 0}) == want);
}

TEST_CASE("local forward: a 2x2 window, two positions, two filters, no bias", "[ops]") {
  // x = [[1, 2, 3], [4, 5, 6]]; positions (0, 0) and (0, 1); w[l][f] is a 2x2 window.
  OpRun r;
  int x = r.tensor({1, 1, 2, 3}, {1, 2, 3, 4, 5, 6});
  int w = r.tensor({4, 1, 2, 2}, {1, 0, 0, 0,   // l 0, f 0: top left      -> 1
                                  0, 0, 0, 1,   // l 0, f 1: bottom right  -> 5
                                  1, 1, 1, 1,   // l 1, f 0: window sum    -> 2 + 3 + 5 + 6
                                  0, 1, 0, 0}); // l 1, f 1: top right     -> 3
  int y = r.tensor({1, 2, 1, 2});
  std::vector<float> want = {1, 16, 5, 3};  // y[f][ow]
  CHECK(r.run(DLS_OP_LOCAL, {x, w, -1, y}, {1, 1, 0, 0, 0, 0}) == want);
}

TEST_CASE("local forward equals runtime.h's formula (stride 2, asymmetric padding, several channels)", "[ops]") {
  const int64_t N = 2, C = 3, H = 5, W = 6, F = 4, R = 3, S = 2, sh = 2, sw = 1, pt = 1, pl = 0, pb = 0, pr = 1;
  const int64_t OH = (H + pt + pb - R) / sh + 1, OW = (W + pl + pr - S) / sw + 1, L = OH * OW;
  std::vector<float> xv = randoms(size_t(N * C * H * W), 3), wv = randoms(size_t(L * F * C * R * S), 4);
  std::vector<float> bv = randoms(size_t(F * L), 5), ref(size_t(N * F * L));
  for (int64_t n = 0; n < N; ++n)
    for (int64_t f = 0; f < F; ++f)
      for (int64_t oh = 0; oh < OH; ++oh)
        for (int64_t ow = 0; ow < OW; ++ow) {
          const int64_t l = oh * OW + ow;
          double acc = bv[size_t(f * L + l)];
          for (int64_t c = 0; c < C; ++c)
            for (int64_t r = 0; r < R; ++r)
              for (int64_t s = 0; s < S; ++s) {
                const int64_t ih = oh * sh - pt + r, iw = ow * sw - pl + s;
                if (ih < 0 || ih >= H || iw < 0 || iw >= W) continue;
                acc += double(wv[size_t((((l * F + f) * C + c) * R + r) * S + s)]) * xv[size_t(((n * C + c) * H + ih) * W + iw)];
              }
          ref[size_t((n * F + f) * L + l)] = float(acc);
        }
  OpRun r;
  int x = r.tensor({N, C, H, W}, xv), w = r.tensor({L * F, C, R, S}, wv), b = r.tensor({F, OH, OW}, bv);
  int y = r.tensor({N, F, OH, OW});
  std::vector<float> got = r.run(DLS_OP_LOCAL, {x, w, b, y}, {double(sh), double(sw), double(pt), double(pl), double(pb), double(pr)});
  REQUIRE(got.size() == ref.size());
  for (size_t i = 0; i < ref.size(); ++i) CHECK(got[i] == Approx(ref[i]).margin(1e-5));
}

TEST_CASE("reorg and local descriptions the runtime cannot take are R0504 faults", "[ops]") {
  {
    OpRun r;  // channels not divisible by stride^2: darknet's order is undefined
    int x = r.tensor({1, 6, 2, 2}), y = r.tensor({1, 24, 1, 1});
    CHECK(r.op(DLS_OP_REORG, {x, y}, {2, 0}) < 0);
    REQUIRE(r.rt->error);
    CHECK(r.rt->error->code == Diag::R0504);
  }
  {
    OpRun r;  // extra: the output is not the input plus `extra` values
    int x = r.tensor({2, 3}), y = r.tensor({2, 4});
    CHECK(r.op(DLS_OP_REORG, {x, y}, {1, 2}) < 0);
    REQUIRE(r.rt->error);
  }
  {
    OpRun r;  // local weight with one bank too few
    int x = r.tensor({1, 1, 2, 2}), w = r.tensor({3, 1, 1, 1}), y = r.tensor({1, 1, 2, 2});
    CHECK(r.op(DLS_OP_LOCAL, {x, w, -1, y}, {1, 1, 0, 0, 0, 0}) < 0);
    REQUIRE(r.rt->error);
    CHECK(r.rt->error->code == Diag::R0504);
  }
}

TEST_CASE("decode_op checks every op against its ops.def row", "[ops]") {
  auto fault = [](int opcode, std::vector<int64_t> xs, std::vector<int64_t> ys, std::vector<double> attrs, bool noInput = false) {
    OpRun r;
    int x = r.tensor(xs), y = r.tensor(ys);
    r.op(opcode, {noInput ? -1 : x, y}, attrs);
    REQUIRE(r.rt->error);
    CHECK(r.rt->error->code == Diag::R0504);
    return r.rt->error->message;
  };
  CHECK_THAT(fault(DLS_OP_DROPOUT, {2, 3}, {2, 3}, {1.0}), Catch::Contains("attribute p = 1 is out of its range [0, 1)"));
  CHECK_THAT(fault(DLS_OP_DROPOUT, {2, 3}, {2, 3}, {0.5, 0.5}), Catch::Contains("expects 1 attributes, got 2"));
  CHECK_THAT(fault(DLS_OP_UPSAMPLE, {1, 1, 2, 2}, {1, 1, 4, 4}, {2.5}), Catch::Contains("attribute factor = 2.5"));
  CHECK_THAT(fault(DLS_OP_RELU, {2, 3}, {2, 3}, {}, true), Catch::Contains("tensor 0 is required"));
  CHECK_THAT(fault(DLS_OP_TANH, {2, 3}, {2, 3}, {0}), Catch::Contains("expects 0 attributes, got 1"));
  {
    OpRun r;  // one tensor too many
    int x = r.tensor({2, 3}), y = r.tensor({2, 3});
    CHECK(r.op(DLS_OP_RELU, {x, y, y}, {}) < 0);
    REQUIRE(r.rt->error);
    CHECK_THAT(r.rt->error->message, Catch::Contains("expects 2 tensors, got 3"));
  }
}

TEST_CASE("conv1d is conv2d over the [N, C, 1, L] view of the same numbers", "[ops]") {
  const int64_t N = 2, C = 4, L = 9, F = 6, K = 3, G = 2;
  std::vector<float> xv = randoms(size_t(N * C * L), 7), wv = randoms(size_t(F * C / G * K), 8), bv = randoms(size_t(F), 9);
  // stride 2, pad left 1 right 0, dilation 2, groups 2: L' = (9 + 1 - 5) / 2 + 1 = 3
  OpRun a;
  int x = a.tensor({N, C, L}, xv), w = a.tensor({F, C / G, K}, wv), b = a.tensor({F}, bv), y = a.tensor({N, F, 3});
  std::vector<float> one = a.run(DLS_OP_CONV1D, {x, w, b, y}, {2, 1, 0, 2, double(G)});
  OpRun c;
  int x2 = c.tensor({N, C, 1, L}, xv), w2 = c.tensor({F, C / G, 1, K}, wv), b2 = c.tensor({F}, bv), y2 = c.tensor({N, F, 1, 3});
  std::vector<float> two = c.run(DLS_OP_CONV2D, {x2, w2, b2, y2}, {1, 2, 0, 1, 0, 0, 1, 2, double(G)});
  REQUIRE(one.size() == size_t(N * F * 3));
  REQUIRE(one.size() == two.size());
  double sum = 0;
  for (size_t i = 0; i < one.size(); ++i) {
    CHECK(one[i] == Approx(two[i]).margin(1e-6));
    sum += std::abs(one[i]);
  }
  CHECK(sum > 0);
  // direct formula for one output value: n = 1, f = 4 (group 1: channels 2, 3), position 2
  double ref = bv[4];
  for (int64_t ci = 0; ci < C / G; ++ci)
    for (int64_t k = 0; k < K; ++k) {
      const int64_t pos = 2 * 2 - 1 + k * 2;
      if (pos >= 0 && pos < L) ref += double(wv[size_t((4 * (C / G) + ci) * K + k)]) * xv[size_t((1 * C + 2 + ci) * L + pos)];
    }
  CHECK(one[size_t((1 * F + 4) * 3 + 2)] == Approx(ref).margin(1e-5));
}
