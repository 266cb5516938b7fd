// TrainRuns.h: what the tests that run training share: the hand-made mlp program and quiet train options.
#ifndef DLSPEC_RUNTIME_TESTS_TRAINRUNS_H
#define DLSPEC_RUNTIME_TESTS_TRAINRUNS_H
#include "programs/Programs.h"
#include "train/Trainer.h"

namespace dlt {

inline dls::Program mlp_program() { return {mlp_setup, mlp_train_step, mlp_eval_step}; }

// `train` for `epochs` epochs on 2 threads without progress output; `backend`: another backend table.
inline dls::Options train_opts(int64_t epochs, const dls_backend* backend = nullptr) {
  dls::Options o;
  o.command = "train", o.epochs = epochs, o.threads = 2, o.quiet = true, o.backend = backend;
  return o;
}

}  // namespace dlt
#endif
