// Programs.h: hand-made "compiled programs" (exactly the calls `dlspec build` emits) for the mlp and LeNet
// workloads of anchors.md, configurable for tests. Defaults train on Fashion-MNIST.
#ifndef DLSPEC_RUNTIME_TESTS_PROGRAMS_H
#define DLSPEC_RUNTIME_TESTS_PROGRAMS_H
#include <dlspec/runtime.h>

#include <string>

struct ProgramConfig {
  std::string train_images = "/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz";
  std::string train_labels = "/usr/share/datasets/fashion-mnist/train-labels-idx1-ubyte.gz";
  std::string test_images = "/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz";
  std::string test_labels = "/usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz";
  int64_t epochs = 5, batch = 0 /* 0: the workload's (mlp 128, lenet 64) */, seed = 1;
  double lr = 0.02, momentum = 0.9;
  std::string checkpoint_dir;  // empty: none
  int64_t keep = 3;
  bool shuffle = true;
  bool data = true;            // declare the datasets
  bool dropout = false;        // mlp: dropout(0.2) after each ReLU (tests the RNG path)
  double lr_decay_cosine = 0;  // > 0: cosine schedule
  int32_t optimizer = DLS_OPT_SGD, optimizer_flag = 0;  // mlp: dls_rt_optimizer's kind and flag (amsgrad)
};

ProgramConfig& mlp_config();
ProgramConfig& lenet_config();
extern "C" {
void mlp_setup(dls_rt* rt);
void mlp_train_step(dls_rt* rt);
void mlp_eval_step(dls_rt* rt);
void lenet_setup(dls_rt* rt);
void lenet_train_step(dls_rt* rt);
void lenet_eval_step(dls_rt* rt);
}
#endif
