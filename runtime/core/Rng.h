// Rng.h: the runtime's deterministic random numbers. Everything random (initialisers, shuffling, dropout,
// augmentation) is a pure function of (seed, stream, counter), so results do not depend on thread count
// and a resumed run reproduces an uninterrupted one.
#ifndef DLSPEC_RUNTIME_CORE_RNG_H
#define DLSPEC_RUNTIME_CORE_RNG_H
#include <cmath>
#include <cstdint>

namespace dls {

inline uint64_t mix64(uint64_t z) {  // splitmix64 finaliser
  z += 0x9e3779b97f4a7c15ull;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}
inline uint64_t hash3(uint64_t a, uint64_t b, uint64_t c) { return mix64(mix64(mix64(a) ^ b) ^ c); }
// Uniform in [0, 1) from the top 24 bits.
inline float u01(uint64_t bits) { return float(bits >> 40) * (1.0f / 16777216.0f); }

// Sequential generator (splitmix64): one 64-bit state, trivially checkpointed.
struct Rng {
  uint64_t state;
  explicit Rng(uint64_t s = 0) : state(s) {}
  uint64_t next() { return mix64(state += 0x9e3779b97f4a7c15ull); }
  double uniform() { return double(next() >> 11) * (1.0 / 9007199254740992.0); }
  double normal() {  // Box-Muller
    double u1 = uniform(), u2 = uniform();
    if (u1 < 1e-300) u1 = 1e-300;
    return std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2);
  }
  uint64_t below(uint64_t n) { return next() % n; }
};

}  // namespace dls
#endif
