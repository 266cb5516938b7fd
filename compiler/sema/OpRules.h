// OpRules: the shape, parameter and FLOPs rules the op table (sema/OpTable.cpp) points to.
// Shape rules: ShapeRules.cpp (conv and pooling share WindowRule.cpp); parameters: ParamRules.cpp;
// FLOPs: FlopsRules.cpp.
#pragma once
#include "sema/OpTable.h"

namespace dls::sema::rules {

// Shapes (network: inputs carry the batch dim first).
void dense(ShapeCtx&);        // [N, K] or a sequence [N, T, K] (last axis)
void recurrent(ShapeCtx&);    // rnn, gru, lstm: [N, T, F] -> [N, T, units] or [N, units]
void conv(ShapeCtx&);         // conv2d over [N, C, H, W]; conv1d over [N, C, L] (an integer `kernel`)
void pool2d(ShapeCtx&);
void pool1d(ShapeCtx&);       // maxpool1d, avgpool1d over [N, C, L] (the 2-D window on [N, C, 1, L])
void globalAvgPool(ShapeCtx&);
void batchNorm(ShapeCtx&);
void layerNorm(ShapeCtx&);
void groupNorm(ShapeCtx&);    // group_norm (groups divide C), instance_norm
void same(ShapeCtx&);         // elementwise: the input's type
void softmaxLike(ShapeCtx&);  // elementwise over the class axis, records classes
void flatten(ShapeCtx&);
void reshape(ShapeCtx&);      // network: batch dim kept
void transpose(ShapeCtx&);
void squeeze(ShapeCtx&);
void unsqueeze(ShapeCtx&);
void add(ShapeCtx&);
void concat(ShapeCtx&);
void broadcast(ShapeCtx&);    // mul, sub, div: NumPy broadcasting of two values
void glu(ShapeCtx&);          // halves `axis`
void reduce(ShapeCtx&);       // mean, sum, max over `axes` (normalised to one 0/1 flag per axis), keepdims
void adaptivePool(ShapeCtx&); // [N, C, H, W] -> [N, C, size, size]
void embedding(ShapeCtx&);
void attention(ShapeCtx&);     // multi_head_attention: [N, T, dim] -> [N, T, dim]
void crossAttention(ShapeCtx&);  // cross_attention: [N, T, dim], memory [N, S, dim] -> [N, T, dim]
void positional(ShapeCtx&);    // positional_embedding: [N, T, dim], T <= max_len
void upsample(ShapeCtx&);
void reorg(ShapeCtx&);
void convTranspose(ShapeCtx&);  // conv_transpose2d over [N, C, H, W] (torch.nn.ConvTranspose2d's output size)
void slice(ShapeCtx&);          // one axis, Python's start:end:step (never the batch)
void padRule(ShapeCtx&);        // torch.nn.functional.pad on the trailing axes
void repeatRule(ShapeCtx&);     // torch's Tensor.repeat (the batch's count 1)        // darknet's space-to-depth; `extra: k` flattens and appends k zeros
// Pipeline (one sample, no batch dim).
void toF32(ShapeCtx&);
void toI32(ShapeCtx&);
void toI64(ShapeCtx&);
void sampleReshape(ShapeCtx&);
void oneHot(ShapeCtx&);
void randomCrop(ShapeCtx&);
void imageSample(ShapeCtx&);   // image augmentations: a [C, H, W] sample, checked ranges
void datasetLevel(ShapeCtx&);  // shuffle, batch, split, repeat: the sample is unchanged

// The one window rule of conv and pooling: reads kernel/stride/pad/dilation, writes the normalised
// kernel_h … dilation_w attributes and the output spatial dims; rejects windows larger than the padded
// input and outputs that collapse to zero. `isConv` picks the codes and stride default (pool: = kernel).
bool window(ShapeCtx& c, bool isConv, Dim& outH, Dim& outW, const char* widthName = "width");
// One spatial dim of the window rule (exposed for tests): nullopt when the window does not fit.
std::optional<int64_t> windowOut(int64_t in, int64_t kernel, int64_t stride, int64_t padBefore, int64_t padAfter,
                                 int64_t dilation);
// `same` padding for one dim (TensorFlow's split: the extra pixel goes after).
void samePadding(int64_t in, int64_t kernel, int64_t stride, int64_t dilation, int64_t& before, int64_t& after);

// Parameters.
std::vector<ParamDesc> denseParams(const Type& in, const Node& n);
std::vector<ParamDesc> convParams(const Type& in, const Node& n);
std::vector<ParamDesc> convTransposeParams(const Type& in, const Node& n);  // [C, filters/groups, KH, KW], bias [filters]
std::vector<ParamDesc> localParams(const Type& in, const Node& n);  // conv's window, no weight sharing
std::vector<ParamDesc> normParams(const Type& in, const Node& n);
std::vector<ParamDesc> layerNormParams(const Type& in, const Node& n);
std::vector<ParamDesc> groupNormParams(const Type& in, const Node& n);  // weight, bias [C]; none for instance_norm without `affine`
std::vector<ParamDesc> embeddingParams(const Type& in, const Node& n);
std::vector<ParamDesc> attentionParams(const Type& in, const Node& n);   // torch.nn.MultiheadAttention
std::vector<ParamDesc> crossAttentionParams(const Type& memory, const Node& n);  // with kdim = vdim = memory's width
std::vector<ParamDesc> positionalParams(const Type& in, const Node& n);  // [max_len, dim]
std::vector<ParamDesc> preluParams(const Type& in, const Node& n);  // [1] or [C], 0.25 each
std::vector<ParamDesc> recurrentParams(const Type& in, const Node& n);  // weight_ih, weight_hh, bias_ih, bias_hh
// Gates of a recurrent layer: 1 (rnn), 3 (gru: r, z, n), 4 (lstm: i, f, g, o).
int64_t recurrentGates(const Node& n);

// FLOPs per sample.
std::optional<int64_t> denseFlops(const std::vector<const Type*>& in, const Type& out, const Node& n);
std::optional<int64_t> attentionFlops(const std::vector<const Type*>& in, const Type& out, const Node& n);
std::optional<int64_t> crossAttentionFlops(const std::vector<const Type*>& in, const Type& out, const Node& n);
std::optional<int64_t> recurrentFlops(const std::vector<const Type*>& in, const Type& out, const Node& n);
std::optional<int64_t> convFlops(const std::vector<const Type*>& in, const Type& out, const Node& n);
std::optional<int64_t> convTransposeFlops(const std::vector<const Type*>& in, const Type& out, const Node& n);
std::optional<int64_t> poolFlops(const std::vector<const Type*>& in, const Type& out, const Node& n);
std::optional<int64_t> elementFlops(const std::vector<const Type*>& in, const Type& out, const Node& n);   // 1/elem
std::optional<int64_t> inputElemFlops(const std::vector<const Type*>& in, const Type& out, const Node& n); // 1/in elem
std::optional<int64_t> normFlops(const std::vector<const Type*>& in, const Type& out, const Node& n);      // 4/elem
std::optional<int64_t> softmaxFlops(const std::vector<const Type*>& in, const Type& out, const Node& n);   // 3/elem
std::optional<int64_t> noFlops(const std::vector<const Type*>& in, const Type& out, const Node& n);

}  // namespace dls::sema::rules
