// The `main` a compiled mlp spec would have (its spec declares `checkpoint "runs/mlp"`).
#include "Programs.h"
int main(int argc, char** argv) {
  mlp_config().checkpoint_dir = "runs/mlp";
  return dls_rt_main(argc, argv, mlp_setup, mlp_train_step, mlp_eval_step);
}
