// The rule list: every taxonomy rule, in the order they run. A plain array; no static registration.
#include "checker/Rule.h"

namespace dls::checker {

void checkConstantInit(const RuleContext&);
void checkPaddingInLoss(const RuleContext&);
void checkInitVariance(const RuleContext&);
void checkLinearStack(const RuleContext&);
void checkNoNonlinearity(const RuleContext&);
void checkRegressionHead(const RuleContext&);
void checkMissingBias(const RuleContext&);
void checkPoolingCollapse(const RuleContext&);
void checkDeviceReference(const RuleContext&);
void checkSharedState(const RuleContext&);
void checkDataParallelBatch(const RuleContext&);
void checkLabelDType(const RuleContext&);
void checkDecodeLayout(const RuleContext&);
void checkShufflePosition(const RuleContext&);
void checkShadowing(const RuleContext&);
void checkLearningRate(const RuleContext&);
void checkAdamEpsilon(const RuleContext&);
void checkPrecisionEffect(const RuleContext&);
void checkAdamL2(const RuleContext&);
void checkRecurrentClip(const RuleContext&);
void checkTrainCompleteness(const RuleContext&);
void checkValidateOnTraining(const RuleContext&);
void checkPreprocessingDiffers(const RuleContext&);
void checkUnscaledInput(const RuleContext&);
void checkMissingShuffle(const RuleContext&);
void checkMemoryEstimate(const RuleContext&);
void checkResumeMissing(const RuleContext&);
void checkAugmentEval(const RuleContext&);
void checkAugmentTwice(const RuleContext&);
void checkDataQuality(const RuleContext&);
void checkNonNegativeLogits(const RuleContext&);
void checkCosineMargin(const RuleContext&);

namespace {
const Rule kRules[] = {
    {Code::M0101, "constant or zero weight initialisation", checkConstantInit},
    {Code::M0102, "initialisers mismatched to the activations (signal propagation)", checkInitVariance},
    {Code::M0104, "consecutive linear layers", checkLinearStack},
    {Code::M0106, "a network with no non-linearity", checkNoNonlinearity},
    {Code::M0105, "regression head on class labels", checkRegressionHead},
    {Code::M0111, "missing bias with no normalisation after it", checkMissingBias},
    {Code::M0112, "pooling collapses the feature map too early", checkPoolingCollapse},
    {Code::E0501, "device index beyond the declared devices; missing placement", checkDeviceReference},
    {Code::E0502, "state shared across devices", checkSharedState},
    {Code::E0503, "data-parallel batch split", checkDataParallelBatch},
    {Code::E0507, "labels converted to a float dtype", checkLabelDType},
    {Code::E0602, "channels-last samples fed to a channels-first network", checkDecodeLayout},
    {Code::E0603, "shuffle after batch or repeat", checkShufflePosition},
    {Code::W0605, "names that shadow declarations", checkShadowing},
    {Code::W0702, "implausible learning rates per optimizer", checkLearningRate},
    {Code::W0703, "adaptive optimizer epsilon too low", checkAdamEpsilon},
    {Code::W0721, "reduced precision with no op that uses it", checkPrecisionEffect},
    {Code::W0705, "Adam with L2 weight decay", checkAdamL2},
    {Code::W0716, "recurrent network trained without gradient clipping", checkRecurrentClip},
    {Code::W0725, "padded steps counted by the loss", checkPaddingInLoss},
    {Code::W0709, "missing validation set; accuracy on real-valued targets", checkTrainCompleteness},
    {Code::W0715, "validation on the training samples", checkValidateOnTraining},
    {Code::W0710, "train and validation preprocessing differ", checkPreprocessingDiffers},
    {Code::W0712, "u8 inputs not scaled", checkUnscaledInput},
    {Code::W0714, "training data never shuffled", checkMissingShuffle},
    {Code::E0801, "memory estimate against the device", checkMemoryEstimate},
    {Code::E0803, "resume from a missing checkpoint", checkResumeMissing},
    {Code::E0805, "augmentation of evaluation data", checkAugmentEval},
    {Code::W0806, "the same augmentation twice", checkAugmentTwice},
    {Code::D0101, "data quality (labels, balance, duplicates, features, overlap)", checkDataQuality, true},
    {Code::W0730, "logits through an activation that is never negative", checkNonNegativeLogits},
    {Code::W0736, "a negative cosine margin on outputs that are never negative", checkCosineMargin},
};
}  // namespace

std::span<const Rule> allRules() { return kRules; }

}  // namespace dls::checker
