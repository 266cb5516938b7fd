// CudaBackendStub.cpp: until runtime/cuda implements the CUDA backend table (Backend.h), a program placed on
// a CUDA device gets an R0501 diagnostic ("built without that backend") instead of running.
#include "CudaExt.h"

extern "C" const dls_backend* dls_cuda_backend(void) { return nullptr; }
extern "C" const dls_backend_ext* dls_cuda_backend_ext(void) { return nullptr; }
