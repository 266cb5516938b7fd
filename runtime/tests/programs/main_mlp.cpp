// The `main` a compiled mlp spec would have.
#include "Programs.h"
int main(int argc, char** argv) { return dls_rt_main(argc, argv, mlp_setup, mlp_train_step, mlp_eval_step); }
