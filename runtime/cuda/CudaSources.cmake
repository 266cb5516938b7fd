# CudaSources.cmake: the CUDA backend's sources and libraries, included by runtime/CMakeLists.txt once CUDA
# and cuDNN are found. Sets DLSPEC_RT_CUDA_SOURCES (host C++), DLSPEC_RT_CUDA_LINK (appended to the
# programs' link line) and defines dlspec_rt_add_cuda(target).
find_library(DLSPEC_NCCL_LIBRARY nccl HINTS ${CUDAToolkit_LIBRARY_DIR} /usr/local/cuda/lib64)
find_path(DLSPEC_NCCL_INCLUDE nccl.h HINTS ${CUDAToolkit_INCLUDE_DIRS})
set(DLSPEC_RT_CUDA_SOURCES cuda/CudaBackend.cpp cuda/CudaPlan.cpp cuda/CudaNccl.cpp cuda/CudaRecurrent.cpp)

# The kernels: one object library so that the runtime's C++ flags (-march, warnings) stay off nvcc.
add_library(dlspec_rt_cuda_kernels OBJECT ${CMAKE_CURRENT_LIST_DIR}/CudaKernels.cu ${CMAKE_CURRENT_LIST_DIR}/CudaMoreKernels.cu)
set_target_properties(dlspec_rt_cuda_kernels PROPERTIES POSITION_INDEPENDENT_CODE ON CUDA_STANDARD 17
                      CUDA_ARCHITECTURES "${CMAKE_CUDA_ARCHITECTURES}")
target_compile_options(dlspec_rt_cuda_kernels PRIVATE $<$<COMPILE_LANGUAGE:CUDA>:--expt-relaxed-constexpr>)

get_filename_component(_dls_cuda_libdir "${DLSPEC_CUDNN_LIBRARY}" DIRECTORY)
set(DLSPEC_RT_CUDA_LINK " -L${CUDAToolkit_LIBRARY_DIR} -L${_dls_cuda_libdir} -lcudart -lcublas -lcublasLt -lcudnn")
if(DLSPEC_NCCL_LIBRARY AND DLSPEC_NCCL_INCLUDE)
  set(DLSPEC_HAVE_NCCL ON)
  string(APPEND DLSPEC_RT_CUDA_LINK " -lnccl")
  message(STATUS "dlspec: CUDA backend with NCCL (${DLSPEC_NCCL_LIBRARY})")
else()
  message(STATUS "dlspec: CUDA backend without NCCL (libnccl not found): multi-device placement unavailable")
endif()
string(APPEND DLSPEC_RT_CUDA_LINK " -Wl,-rpath,${CUDAToolkit_LIBRARY_DIR}:${_dls_cuda_libdir}")

function(dlspec_rt_add_cuda target)
  target_sources(${target} PRIVATE $<TARGET_OBJECTS:dlspec_rt_cuda_kernels>)
  # The kernels' objects make CUDA one of the target's languages for the Makefile generator, which then asks
  # for a CUDA dialect: unset, CUDA_STANDARD falls back to the target's CXX_STANDARD (20), which CMake 3.25
  # cannot request from nvcc. The target compiles no .cu itself; name the kernels' dialect.
  set_target_properties(${target} PROPERTIES CUDA_STANDARD 17)
  target_link_libraries(${target} PUBLIC CUDA::cudart CUDA::cublas CUDA::cublasLt ${DLSPEC_CUDNN_LIBRARY})
  target_compile_definitions(${target} PRIVATE DLSPEC_HAVE_CUDA)
  if(DLSPEC_HAVE_NCCL)
    target_link_libraries(${target} PUBLIC ${DLSPEC_NCCL_LIBRARY})
    target_compile_definitions(${target} PRIVATE DLSPEC_HAVE_NCCL)
  endif()
endfunction()
