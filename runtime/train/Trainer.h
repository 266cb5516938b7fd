// Trainer.h: the commands of a built executable (train, eval, predict, step-check) over a set-up runtime.
#ifndef DLSPEC_RUNTIME_TRAIN_TRAINER_H
#define DLSPEC_RUNTIME_TRAIN_TRAINER_H
#include <string>

#include "../core/Runtime.h"
#include "../data/Loader.h"

namespace dls {

struct Program {
  dls_gen_fn setup = nullptr, train_step = nullptr, eval_step = nullptr;
};

struct Options {
  std::string command;          // train | eval | predict | step-check | help
  int64_t epochs = -1;          // --epochs override
  int32_t threads = 2;          // --threads
  std::string resume;           // train --resume DIR
  bool overwrite = false;       // train --overwrite: start over in a run directory that holds checkpoints
  std::string checkpoint;       // eval/predict --checkpoint DIR
  std::string predict_file;     // predict FILE
  int64_t tokens = 200;         // predict --tokens N: tokens a text model generates after the prompt
  std::string weights;          // train/eval/predict/step-check --weights DIR: DIR/<param>.npy
  std::string outputs;          // predict --outputs FILE.npy: the network's outputs instead of classes
  int64_t top = 0;              // predict --top K: the K likeliest classes with their probabilities
  std::string output;           // predict --output FILE.csv|FILE.json: the predictions written there
  std::string batch_x, batch_y, out;  // step-check
  // predict/step-check --input NAME=FILE: the file of sample field NAME (a data set with several sample fields)
  std::vector<std::pair<std::string, std::string>> inputs = {};
  std::string onnx_out, npz_out, safetensors_out;  // export --onnx / --npz / --safetensors FILE
  int64_t export_batch = 0;     // export --batch N: the ONNX model's batch fixed (0: the symbol)
  std::string load = "auto";    // train/eval --load auto|memory|stream: how the splits are held (data/Stream.h)
  uint64_t data_memory = 0;     // train/eval --data-memory SIZE: the bytes of decoded samples a split may hold (0: half of memory)
  bool quiet = false;           // tests: no progress output
  const dls_backend* backend = nullptr;  // tests: run on this backend table instead of the placement's
};

// Runs one parsed command line (set-up included); used by dls_rt_main and the tests.
int run(const Options& o, const Program& p);
// Each returns the process exit code; faults are thrown as dls::Fault.
int run_train(dls_rt* rt, const Program& p, const Options& o);
int run_eval(dls_rt* rt, const Program& p, const Options& o);
int run_predict(dls_rt* rt, const Program& p, const Options& o);
int run_step_check(dls_rt* rt, const Program& p, const Options& o);
// export: the network as ONNX (the model the program was built with, filled with the weights) and/or its weights as
// .npz or safetensors (Export.cpp). R0520 (no ONNX model), R0521 (a file cannot be written), R0522 (a damaged model).
int run_export(dls_rt* rt, const Program& p, const Options& o);
// The weights of eval, predict and export: --weights DIR, else --checkpoint DIR|FILE, else the run directory's
// newest checkpoint (R0405 when there is none; the checkpoint's own checks: R0302, R0303, R0305, R0306).
void load_weights(dls_rt* rt, const Options& o);

// Sets every parameter (running statistics included) from DIR/<name>.npy: R0407 for a missing file, R0205
// for one whose shape is not the parameter's.
void load_weights_dir(dls_rt* rt, const std::string& dir);
// Writes `v` as a little-endian f32 .npy file of shape `d` (R0407 when it cannot be written).
void write_npy(const std::string& path, const std::vector<float>& v, const dls_tensor_desc& d);

// Copies a batch into the program's input/label tensors and sets the step's valid row count.
void bind_batch(dls_rt* rt, const Batch& b);
// Runs generated code and rethrows a fault it recorded.
void call(dls_rt* rt, dls_gen_fn f);

// Runs the generated training step: eagerly for the first two steps (a backend's lazy set-up, algorithm
// choice and workspace growth happen there), then, on a backend with step graphs (dls_backend::begin_capture,
// CUDA) and unless DLS_GRAPHS=0 or `allow_graphs` is false, as one recording replayed with each step's
// scalars. Before each run() the caller binds the batch and sets rt->step and rt->lr_now, as for an eager step.
class StepRunner {
public:
  StepRunner(dls_rt* rt, dls_gen_fn step, bool allow_graphs = true);
  void run();
  int64_t replays() const { return replays_; }

private:
  dls_rt* rt_;
  dls_gen_fn step_;
  bool graphs_;
  bool captured_ = false;
  int64_t eager_ = 0, replays_ = 0;
};
// Rows of the batch tensors of this process: the global batch, or its share over MPI ranks.
int64_t local_batch(const dls_rt* rt);
// Over MPI ranks: every parameter, running statistic and optimizer state (and the update count) as rank 0
// has them. Nothing without ranks.
void sync_state(dls_rt* rt);
// Where metrics and default checkpoints go: the checkpoint dir or ./runs/NAME.
std::string run_dir(const dls_rt* rt);
// R0405 for a path the command line names (`option`, e.g. "--checkpoint") or, with `option` empty, the run
// directory eval and predict read without --checkpoint: what the path is instead (missing, a file), and what to
// give. `file_ok`: a regular file (a checkpoint file) is acceptable there.
[[noreturn]] void fail_path(const std::string& path, const std::string& option, bool file_ok);
// Evaluates a split in eval mode: mean loss over all samples and accuracy (NaN when not classification).
// The other validation metrics (runtime.h dls_metric) are NaN where they do not apply: top_k, precision, recall
// and f1 on class labels, mae, rmse and r2 on real targets. confusion: classes x classes counts (row: the true
// class, column: the predicted one; empty without class labels).
struct EvalResult {
  double loss = 0, accuracy = 0;
  double top_k = NAN, precision = NAN, recall = NAN, f1 = NAN, mae = NAN, rmse = NAN, r2 = NAN;
  int64_t classes = 0;
  std::vector<double> confusion;
  int64_t samples = 0;
  double auc = NAN;
  // A loss of several terms (dls_rt_head): per term its name and its metrics (NaN where they do not apply).
  struct Head {
    std::string name;
    double loss = NAN, accuracy = NAN, mae = NAN, rmse = NAN;
  };
  std::vector<Head> heads;
};
EvalResult evaluate(dls_rt* rt, const Program& p, const Dataset& ds);

}  // namespace dls
#endif
