// The `main` a compiled LeNet spec would have.
#include "Programs.h"
int main(int argc, char** argv) { return dls_rt_main(argc, argv, lenet_setup, lenet_train_step, lenet_eval_step); }
