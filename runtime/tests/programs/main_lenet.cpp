// The `main` a compiled LeNet spec would have (its spec declares `checkpoint "runs/lenet"`).
#include "Programs.h"
int main(int argc, char** argv) {
  lenet_config().checkpoint_dir = "runs/lenet";
  return dls_rt_main(argc, argv, lenet_setup, lenet_train_step, lenet_eval_step);
}
