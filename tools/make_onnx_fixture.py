"""Tiny ONNX graphs for fusedet's ONNX weight importer (`crates/fusedet/src/import/onnx.rs`),
with the outputs onnxruntime computes on a fixed input. The test
`crates/fusedet/tests/onnx_import.rs` builds the same layers in Burn, loads the weights through
`ParamStream` and must reproduce these outputs.

    pip install -r tools/requirements.txt
    python3 tools/make_onnx_fixture.py crates/fusedet/tests/fixtures/onnx

Writes, into the folder given:
- `layers.onnx`: one chain that covers what PaddleOCR's detection exports use and more:
  Conv with a non-square kernel and pads 1 (height) / 2 (width), `auto_pad = SAME_UPPER` with
  stride 2, stride 2 with asymmetric pads, groups (2, 4, depthwise), dilation 2, bias in the
  node, no bias, a bias split into a following `Add` (as PaddleOCR exporters write it),
  BatchNormalization (epsilon 1e-3), a scalar `Mul` + `Add` affine, and ConvTranspose (kernel
  2 / stride 2; kernel 4 / stride 2 / pad 1 with groups 2 and a split bias; kernel 3 / stride 2
  / pad 1 / output_padding 1 / dilation 3). Weights are stored both as initializers (opset 14
  exports) and as `Constant` nodes, one of them behind an `Identity` (opset 12 exports).
- `layers.json`: `input` and, per parameterised layer in graph order, the output onnxruntime
  computes (`outputs`: name, shape, values), all float32 (written as shortest round-trip
  decimals).
- `add_not_a_bias.onnx`: a bias-free Conv followed by an `Add` of a `[C]`-shaped constant, which
  ONNX broadcasting adds along the width, not the channels: not a bias to fold.

Deterministic: weights and input come from `numpy.random.default_rng(10)`; `onnx.save` writes
the same bytes for the same graph.
"""
import json
import sys
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

rng = np.random.default_rng(10)

nodes = []
initializers = []
stages = []  # (name of the stage output, the value) in graph order


def w(*shape, scale=None):
    fan_in = int(np.prod(shape[1:]))
    s = scale if scale is not None else np.sqrt(2.0 / fan_in)
    return (rng.standard_normal(shape) * s).astype(np.float32)


def init(name, value):
    initializers.append(numpy_helper.from_array(np.asarray(value, np.float32), name))
    return name


def constant(name, value):
    nodes.append(
        helper.make_node(
            "Constant", [], [name], name=name + "_const",
            value=numpy_helper.from_array(np.asarray(value, np.float32), name),
        )
    )
    return name


def conv(name, x, cin, cout, k, bias=True, stored="init", **attrs):
    """A Conv node; `bias` True (in the node), False, or "add" (a following Add of a
    [1, cout, 1, 1] constant)."""
    kh, kw = k
    groups = attrs.get("group", 1)
    weight = w(cout, cin // groups, kh, kw)
    store = init if stored == "init" else constant
    inputs = [x, store(name + ".w", weight)]
    if bias is True:
        inputs.append(store(name + ".b", rng.uniform(-0.5, 0.5, cout)))
    out = name if bias != "add" else name + ".conv"
    nodes.append(helper.make_node("Conv", inputs, [out], name=name, **attrs))
    if bias == "add":
        b = store(name + ".b", rng.uniform(-0.5, 0.5, (1, cout, 1, 1)))
        nodes.append(helper.make_node("Add", [out, b], [name], name=name + "_add"))
    stages.append(name)
    return name


def conv_t(name, x, cin, cout, k, bias=True, stored="init", **attrs):
    groups = attrs.get("group", 1)
    weight = w(cin, cout // groups, k, k, scale=np.sqrt(1.0 / (cin // groups)))
    store = init if stored == "init" else constant
    inputs = [x, store(name + ".w", weight)]
    if bias is True:
        inputs.append(store(name + ".b", rng.uniform(-0.5, 0.5, cout)))
    out = name if bias != "add" else name + ".conv"
    nodes.append(helper.make_node("ConvTranspose", inputs, [out], name=name, **attrs))
    if bias == "add":
        b = store(name + ".b", rng.uniform(-0.5, 0.5, (1, cout, 1, 1)))
        nodes.append(helper.make_node("Add", [b, out], [name], name=name + "_add"))
    stages.append(name)
    return name


def batch_norm(name, x, c, stored="init", epsilon=1e-3):
    store = init if stored == "init" else constant
    params = [
        store(name + ".gamma", rng.uniform(0.5, 1.5, c)),
        store(name + ".beta", rng.uniform(-0.2, 0.2, c)),
        store(name + ".mean", rng.uniform(-0.3, 0.3, c)),
        store(name + ".var", rng.uniform(0.5, 2.0, c)),
    ]
    nodes.append(
        helper.make_node("BatchNormalization", [x, *params], [name], name=name, epsilon=epsilon)
    )
    stages.append(name)
    return name


def relu(x):
    nodes.append(helper.make_node("Relu", [x], [x + ".relu"], name=x + "_relu"))
    return x + ".relu"


def layers_graph():
    x = "x"
    y = conv("conv_pads_1_2", x, 4, 8, (3, 5), pads=[1, 2, 1, 2])
    y = relu(batch_norm("bn_a", y, 8))
    y = conv("conv_same_upper_s2_g4", y, 8, 8, (3, 3), auto_pad="SAME_UPPER", strides=[2, 2], group=4)
    # pads are [top, left, bottom, right] (x1_begin, x2_begin, x1_end, x2_end).
    y = conv("conv_s2_g2_asym_nobias", y, 8, 8, (3, 3), bias=False, strides=[2, 2], group=2,
             pads=[0, 1, 1, 0])
    # Depthwise, dilation 2, weights as Constant nodes (the weight behind an Identity) and the
    # bias as a following Add, as PaddleOCR's opset-12 exports write them.
    dw = w(8, 1, 3, 3)
    constant("conv_dw_d2.w0", dw)
    nodes.append(helper.make_node("Identity", ["conv_dw_d2.w0"], ["conv_dw_d2.w"], name="conv_dw_d2_id"))
    nodes.append(
        helper.make_node("Conv", [y, "conv_dw_d2.w"], ["conv_dw_d2.conv"], name="conv_dw_d2",
                         group=8, dilations=[2, 2], pads=[2, 2, 2, 2], kernel_shape=[3, 3])
    )
    constant("conv_dw_d2.b", rng.uniform(-0.5, 0.5, (1, 8, 1, 1)))
    nodes.append(helper.make_node("Add", ["conv_dw_d2.conv", "conv_dw_d2.b"], ["conv_dw_d2"], name="conv_dw_d2_add"))
    stages.append("conv_dw_d2")
    # A scalar affine (PaddleOCR's LearnableAffineBlock): x * 1.25 + (-0.375).
    nodes.append(helper.make_node("Mul", ["conv_dw_d2", init("affine.scale", [1.25])], ["affine.mul"], name="affine_mul"))
    nodes.append(helper.make_node("Add", [init("affine.bias", [-0.375]), "affine.mul"], ["affine"], name="affine_add"))
    stages.append("affine")
    y = conv_t("convt_k2_s2", "affine", 8, 4, 2, strides=[2, 2])
    y = relu(batch_norm("bn_b", y, 4, stored="constant", epsilon=1e-5))
    y = conv_t("convt_k4_s2_p1_g2", y, 4, 4, 4, bias="add", stored="constant", strides=[2, 2],
               pads=[1, 1, 1, 1], group=2)
    conv_t("convt_k3_s2_p1_op1_d3", y, 4, 2, 3, strides=[2, 2], pads=[1, 1, 1, 1],
           output_padding=[1, 1], dilations=[3, 3])
    return x


def save(graph, path):
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)],
                              producer_name="fusedet tools/make_onnx_fixture.py")
    model.ir_version = 8
    onnx.checker.check_model(model, full_check=True)
    onnx.save(model, path)
    return model


def floats(a):
    # The shortest decimal that reads back as the same float32.
    return [float(str(v)) for v in np.asarray(a, np.float32).reshape(-1)]


def main():
    out_dir = Path(sys.argv[1])
    out_dir.mkdir(parents=True, exist_ok=True)

    in_shape = [1, 4, 8, 7]
    layers_graph()
    x_value = rng.standard_normal(in_shape).astype(np.float32)
    graph = helper.make_graph(
        nodes, "fusedet_onnx_import_fixture",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, in_shape)],
        [helper.make_tensor_value_info(s, TensorProto.FLOAT, [None] * 4) for s in stages],
        initializer=initializers,
    )
    save(graph, out_dir / "layers.onnx")
    sess = ort.InferenceSession(str(out_dir / "layers.onnx"), providers=["CPUExecutionProvider"])
    results = sess.run(stages, {"x": x_value})
    fixture = {
        "input": {"shape": in_shape, "values": floats(x_value)},
        "outputs": [
            {"name": s, "shape": list(r.shape), "values": floats(r)} for s, r in zip(stages, results)
        ],
    }
    (out_dir / "layers.json").write_text(json.dumps(fixture, separators=(",", ":")) + "\n")
    for s, r in zip(stages, results):
        print(f"{s}: {list(r.shape)}")

    # A [C]-shaped Add after a Conv broadcasts along the width (the last axis), not the channels.
    nodes.clear()
    initializers.clear()
    g = helper.make_graph(
        [
            helper.make_node("Conv", ["x", init("conv.w", w(3, 2, 1, 1))], ["conv"], name="conv"),
            helper.make_node("Add", ["conv", init("per_column", [1.0, 2.0, 3.0])], ["y"], name="add"),
        ],
        "add_not_a_bias",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 2, 3, 3])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 3, 3, 3])],
        initializer=initializers,
    )
    save(g, out_dir / "add_not_a_bias.onnx")


if __name__ == "__main__":
    main()
