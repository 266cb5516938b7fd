#!/usr/bin/python3
"""Writes the small ONNX models of tests/import/onnx/cases/ (committed, a few KB each; run again to refresh).

    /usr/bin/python3 tests/import/onnx/make_cases.py

tiny_cnn and tiny_mlp are PyTorch modules exported at opset 13 with fixed seeds; the fault cases are built
node by node with onnx.helper, each with one feature dlspec cannot express.
"""
import os

import numpy as np
import onnx
import torch
from onnx import TensorProto, helper, numpy_helper

HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "cases")


class TinyCnn(torch.nn.Module):
    """conv + batch norm + relu, a residual block, max pooling, global average pooling, a dense head."""

    def __init__(self):
        super().__init__()
        self.conv1 = torch.nn.Conv2d(3, 8, 3, padding=1, bias=False)
        self.bn1 = torch.nn.BatchNorm2d(8)
        self.pool = torch.nn.MaxPool2d(2)
        self.conv2 = torch.nn.Conv2d(8, 8, 3, padding=1)
        self.bn2 = torch.nn.BatchNorm2d(8, eps=1e-3)
        self.fc = torch.nn.Linear(8, 5)

    def forward(self, x):
        h = self.pool(torch.relu(self.bn1(self.conv1(x))))
        h = torch.relu(h + self.bn2(self.conv2(h)))
        h = torch.nn.functional.adaptive_avg_pool2d(h, 1).flatten(1)
        return self.fc(h)


class TinyMlp(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = torch.nn.Linear(6, 16)
        self.fc2 = torch.nn.Linear(16, 4)

    def forward(self, x):
        return torch.log_softmax(self.fc2(torch.tanh(self.fc1(x))), dim=1)


def export(module, shape, name):
    torch.manual_seed(0)
    m = module()
    with torch.no_grad():  # statistics that are not the defaults, so that a wrong mapping shows
        for b in m.modules():
            if isinstance(b, torch.nn.BatchNorm2d):
                b.running_mean.uniform_(-0.5, 0.5)
                b.running_var.uniform_(0.5, 2.0)
                b.weight.uniform_(0.5, 1.5)
                b.bias.uniform_(-0.2, 0.2)
    m.eval()
    # PRESERVE: eval mode without torch's conv + batch norm fusion, so that the batch norms stay nodes
    torch.onnx.export(m, torch.randn(*shape), os.path.join(HERE, name), opset_version=13,
                      input_names=["x"], output_names=["y"], training=torch.onnx.TrainingMode.PRESERVE)


def graph_model(name, nodes, inputs, outputs, inits=()):
    g = helper.make_graph(nodes, name, inputs, outputs, list(inits))
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)], producer_name="dlspec make_cases")
    onnx.checker.check_model(m)
    onnx.save(m, os.path.join(HERE, name + ".onnx"))


def f32(name, shape):
    return helper.make_tensor_value_info(name, TensorProto.FLOAT, shape)


def shape_cases():
    """E1120: a reshape's target computed from the shape with the batch multiplied ([2 N, 8]); fixed: [N, 16]."""
    def i64(name, vals):
        return helper.make_node("Constant", [], [name], value=helper.make_tensor(name, TensorProto.INT64, [len(vals)], vals))

    def case(name, factor, rest, out):
        nodes = [helper.make_node("Shape", ["x"], ["s"], name="shape"), i64("i0", [0]), i64("k", [factor]), i64("rest", rest),
                 helper.make_node("Gather", ["s", "i0"], ["n"], name="batch", axis=0),
                 helper.make_node("Mul", ["n", "k"], ["nk"], name="times"),
                 helper.make_node("Concat", ["nk", "rest"], ["target"], name="target", axis=0),
                 helper.make_node("Reshape", ["x", "target"], ["y"], name="reshape")]
        graph_model(name, nodes, [f32("x", ["N", 4, 2, 2])], [f32("y", out)])

    case("batch_times", 2, [8], ["M", 8])
    case("batch_kept", 1, [16], ["N", 16])


def main():
    os.makedirs(HERE, exist_ok=True)
    export(TinyCnn, (2, 3, 8, 8), "tiny_cnn.onnx")
    export(TinyMlp, (4, 6), "tiny_mlp.onnx")
    w = numpy_helper.from_array(np.full((4, 3, 3, 3), 0.1, np.float32), "w")
    # E1111: LRN has no dlspec op
    graph_model("lrn", [helper.make_node("LRN", ["x"], ["y"], name="norm1", size=3)],
                [f32("x", [1, 3, 8, 8])], [f32("y", [1, 3, 8, 8])])
    # E1112: auto_pad SAME_UPPER on a convolution
    graph_model("auto_pad", [helper.make_node("Conv", ["x", "w"], ["y"], name="conv1", auto_pad="SAME_UPPER", strides=[2, 2])],
                [f32("x", [1, 3, 8, 8])], [f32("y", [1, 4, 4, 4])], [w])
    # E1112: ceil_mode that changes the output size (7 -> 4 rather than 3)
    graph_model("ceil_pool", [helper.make_node("MaxPool", ["x"], ["y"], name="pool1", kernel_shape=[2, 2], strides=[2, 2], ceil_mode=1)],
                [f32("x", [1, 3, 7, 7])], [f32("y", [1, 3, 4, 4])])
    # E1113: two graph inputs
    graph_model("two_inputs", [helper.make_node("Add", ["a", "b"], ["y"], name="sum")],
                [f32("a", [1, 4]), f32("b", [1, 4])], [f32("y", [1, 4])])
    # the fixed versions: padding written out, floor mode
    graph_model("explicit_pad", [helper.make_node("Conv", ["x", "w"], ["y"], name="conv1", pads=[0, 0, 1, 1], strides=[2, 2])],
                [f32("x", [1, 3, 8, 8])], [f32("y", [1, 4, 4, 4])], [w])
    graph_model("floor_pool", [helper.make_node("MaxPool", ["x"], ["y"], name="pool1", kernel_shape=[2, 2], strides=[2, 2])],
                [f32("x", [1, 3, 8, 8])], [f32("y", [1, 3, 4, 4])])
    shape_cases()
    with open(os.path.join(HERE, "not_onnx.onnx"), "w") as f:
        f.write("dlspec 1\n")  # E1110: a text file


if __name__ == "__main__":
    main()
