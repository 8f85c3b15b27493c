//! The MobileNetV2 variant of YOLOv3 / ASFF (MobileNetV2: Sandler et al., arXiv:1801.04381;
//! ASFF: arXiv:1911.09516), as `models/yolov3_mobilev2.py` of GOATmessi7/ASFF builds it
//! (`create_yolov3_mobilenet_v2` at width 1 and its `YOLOv3`; SPEC §1.3, §9):
//! - `module_list` 0–18: MobileNetV2's features (`ConvBNReLU`, 17 `InvertedResidual`s,
//!   `ConvBNReLU` 1×1 to 1280), kept at entries 6 (32 ch, stride 8) and 13 (96 ch, stride 16);
//! - 19–39: the YOLOv3 neck with ReLU6 units, one-unit `ressepblock`s, SPP and three
//!   DropBlock slots; kept at entries 25 (512 ch, stride 32), 32 (256 ch, stride 16) and 39
//!   (128 ch, stride 8), the routes of entries 13 and 6 concatenated after the upsamplings at
//!   27 and 34;
//! - `level_{0,1,2}_conv`: `ASFFmobile` ([`Asff::mobile`]) with ASFF, else a CBL 3×3 (ReLU6)
//!   doubling the width of the level's route;
//! - `level_{0,1,2}_header`: [`YoloV3Head`] with `sep = True` (no feature adaption, the
//!   anchors of [`super::head::ANCHORS_SEP`]).
//!
//! The reference's notes for this variant: no DropBlock schedule, no RFB in the heads (RFB
//! only halves ASFFmobile's weight width) and no feature adaption. The parameter paths are
//! the reference's state-dict keys: the `nn.Sequential`s of MobileNetV2 index their members
//! (`module_list.0.0.weight` is `ConvBNReLU`'s conv, `module_list.0.1.*` its batch norm), so
//! here they are vectors of [`SeqLayer`] (an enum: variant names are not part of the paths).

use burn::module::Module;
use burn::nn::conv::Conv2d;
use burn::nn::{BatchNorm, BatchNormConfig};
use burn::prelude::*;

use super::blocks::{Cbl, CblActivation, ResBlock, Spp, conv2d_init, mobile_initializer};
use super::head::YoloV3Head;
use super::{
    ANCHOR_MASKS, Asff, AsffOutput, HEAD_CHANNELS, HeadOutput, STRIDES, Wiring, YoloV3Layer,
    dropblock, run_list, upsample,
};

/// MobileNetV2's inverted-residual stages `(t, c, n, s)`: expansion, output channels, repeats,
/// stride of the first.
pub const MOBILENET_V2_SETTING: [(usize, usize, usize, usize); 7] = [
    (1, 16, 1, 1),
    (6, 24, 2, 2),
    (6, 32, 3, 2),
    (6, 64, 4, 2),
    (6, 96, 3, 1),
    (6, 160, 3, 2),
    (6, 320, 1, 1),
];

/// Channels of the three routes into the levels (strides 32, 16, 8).
pub const MOBILE_ROUTE_CHANNELS: [usize; 3] = [512, 256, 128];

/// A member with parameters of one of MobileNetV2's `nn.Sequential`s (the ReLU6 members have
/// none and take no index of their own in the state dict).
#[derive(Module, Debug)]
#[allow(clippy::large_enum_variant)]
pub enum SeqLayer {
    /// `nn.Conv2d` (no bias).
    Conv(Conv2d),
    /// `nn.BatchNorm2d`.
    Norm(BatchNorm),
}

/// MobileNetV2's `nn.Conv2d(cin, cout, k, stride, (k - 1) / 2, groups=groups, bias=False)`,
/// initialised as the reference's mobile variant.
fn mobile_conv(
    cin: usize,
    cout: usize,
    k: usize,
    stride: usize,
    groups: usize,
    device: &Device,
) -> Conv2d {
    let init = mobile_initializer();
    conv2d_init(
        cin,
        cout,
        k,
        stride,
        (k - 1) / 2,
        1,
        groups,
        false,
        init,
        device,
    )
}

/// `ConvBNReLU(cin, cout, k, stride, groups)`: `[conv, batch norm]`, ReLU6 after.
pub fn conv_bn_relu(
    cin: usize,
    cout: usize,
    k: usize,
    stride: usize,
    groups: usize,
    device: &Device,
) -> Vec<SeqLayer> {
    vec![
        SeqLayer::Conv(mobile_conv(cin, cout, k, stride, groups, device)),
        SeqLayer::Norm(BatchNormConfig::new(cout).init(device)),
    ]
}

/// Runs an `nn.Sequential`'s members in order.
fn run_seq(layers: &[SeqLayer], x: Tensor<4>) -> Tensor<4> {
    layers.iter().fold(x, |h, l| match l {
        SeqLayer::Conv(c) => c.forward(h),
        SeqLayer::Norm(n) => n.forward(h),
    })
}

/// Runs a `ConvBNReLU`.
///
/// # Shapes
/// - `x`: `[n, cin, h, w]` → `[n, cout, ceil(h / stride), ceil(w / stride)]`.
pub fn forward_conv_bn_relu(layers: &[SeqLayer], x: Tensor<4>) -> Tensor<4> {
    run_seq(layers, x).clamp(0.0, 6.0)
}

/// A member of an [`InvertedResidual`]'s `conv`.
#[derive(Module, Debug)]
#[allow(clippy::large_enum_variant)]
pub enum InvertedResidualLayer {
    /// A `ConvBNReLU` (the 1×1 expansion, the depthwise 3×3).
    ConvBnRelu(Vec<SeqLayer>),
    /// The linear 1×1 projection, or its batch norm.
    Linear(SeqLayer),
}

/// MobileNetV2's `InvertedResidual(inp, oup, stride, expand_ratio)`: `conv` = [1×1 expansion
/// to `inp · t` (unless t = 1), depthwise 3×3 (stride), 1×1 projection to `oup`, batch norm];
/// added to the input when the stride is 1 and `inp == oup`.
#[derive(Module, Debug)]
pub struct InvertedResidual {
    /// `conv.0`, `conv.1`, ... as the reference's `nn.Sequential`.
    pub conv: Vec<InvertedResidualLayer>,
    #[module(skip)]
    use_res_connect: bool,
}

impl InvertedResidual {
    /// `InvertedResidual(inp, oup, stride, expand_ratio)`.
    ///
    /// # Panics
    /// If `stride` is not 1 or 2.
    pub fn new(
        inp: usize,
        oup: usize,
        stride: usize,
        expand_ratio: usize,
        device: &Device,
    ) -> Self {
        assert!(
            stride == 1 || stride == 2,
            "InvertedResidual stride {stride}"
        );
        let hidden = inp * expand_ratio;
        let mut conv = Vec::new();
        if expand_ratio != 1 {
            conv.push(InvertedResidualLayer::ConvBnRelu(conv_bn_relu(
                inp, hidden, 1, 1, 1, device,
            )));
        }
        conv.push(InvertedResidualLayer::ConvBnRelu(conv_bn_relu(
            hidden, hidden, 3, stride, hidden, device,
        )));
        let project = mobile_conv(hidden, oup, 1, 1, 1, device);
        conv.push(InvertedResidualLayer::Linear(SeqLayer::Conv(project)));
        let norm = BatchNormConfig::new(oup).init(device);
        conv.push(InvertedResidualLayer::Linear(SeqLayer::Norm(norm)));
        Self {
            conv,
            use_res_connect: stride == 1 && inp == oup,
        }
    }

    /// Whether the input is added to the output.
    pub fn residual(&self) -> bool {
        self.use_res_connect
    }

    /// # Shapes
    /// - `x`: `[n, inp, h, w]` → `[n, oup, ceil(h / stride), ceil(w / stride)]`.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let y = self.conv.iter().fold(x.clone(), |h, l| match l {
            InvertedResidualLayer::ConvBnRelu(s) => forward_conv_bn_relu(s, h),
            InvertedResidualLayer::Linear(s) => run_seq(std::slice::from_ref(s), h),
        });
        if self.use_res_connect { x + y } else { y }
    }
}

/// `create_yolov3_mobilenet_v2(num_classes)` at width 1: the 40 entries of `module_list`.
pub fn mobilenet_v2_yolov3_list(device: &Device) -> Vec<YoloV3Layer> {
    let mut list = vec![YoloV3Layer::ConvBnRelu(conv_bn_relu(
        3, 32, 3, 2, 1, device,
    ))];
    let mut cin = 32;
    for (t, c, n, s) in MOBILENET_V2_SETTING {
        for i in 0..n {
            let stride = if i == 0 { s } else { 1 };
            list.push(YoloV3Layer::InvertedResidual(InvertedResidual::new(
                cin, c, stride, t, device,
            )));
            cin = c;
        }
    }
    list.push(YoloV3Layer::ConvBnRelu(conv_bn_relu(
        cin, 1280, 1, 1, 1, device,
    ))); // 18
    let conv = |cin, cout, k| {
        YoloV3Layer::Conv(Cbl::with_activation(
            cin,
            cout,
            k,
            1,
            CblActivation::Relu6,
            device,
        ))
    };
    let sep = |ch, out, inner| YoloV3Layer::Res(ResBlock::sep(ch, out, inner, false, device));
    list.extend([
        sep(1280, 1024, 512), // 19
        conv(1024, 512, 1),
        YoloV3Layer::Spp(Spp {}), // 21
        conv(2048, 512, 1),
        conv(512, 1024, 3),
        dropblock(),        // 24
        conv(1024, 512, 1), // 25: route, 512 ch @ 32
        conv(512, 256, 1),
        upsample(), // 27, + route 1 (96 ch @ 16)
        conv(352, 256, 1),
        conv(256, 512, 3),
        dropblock(), // 30
        sep(512, 512, 256),
        conv(512, 256, 1), // 32: route, 256 ch @ 16
        conv(256, 128, 1),
        upsample(), // 34, + route 0 (32 ch @ 8)
        conv(160, 128, 1),
        conv(128, 256, 3),
        dropblock(), // 37
        sep(256, 256, 128),
        conv(256, 128, 1), // 39: route, 128 ch @ 8
    ]);
    list
}

pub(super) const MOBILE_WIRING: Wiring = Wiring {
    routes: &[6, 13, 25, 32, 39],
    concat: &[(27, 1), (34, 0)],
    restart: &[],
};

/// What a level of the MobileNetV2 variant runs on its route before the head.
#[derive(Module, Debug)]
#[allow(clippy::large_enum_variant)]
pub enum MobileLevel {
    /// `ASFFmobile` (on all three routes).
    Fusion(Asff),
    /// `add_conv(c, 2c, 3, 1, leaky=False)` (on the level's own route).
    Conv(Cbl),
}

/// YOLOv3 (+ ASFF) on MobileNetV2 (`models/yolov3_mobilev2.py`).
#[derive(Module, Debug)]
pub struct YoloV3Mobile {
    /// MobileNetV2 + neck, entries 0–39.
    pub module_list: Vec<YoloV3Layer>,
    /// Stride 32: ASFFmobile or a CBL 3×3 512 → 1024.
    pub level_0_conv: MobileLevel,
    /// Head at stride 32 (anchors 6, 7, 8).
    pub level_0_header: YoloV3Head,
    /// Stride 16: ASFFmobile or a CBL 3×3 256 → 512.
    pub level_1_conv: MobileLevel,
    /// Head at stride 16 (anchors 3, 4, 5).
    pub level_1_header: YoloV3Head,
    /// Stride 8: ASFFmobile or a CBL 3×3 128 → 256.
    pub level_2_conv: MobileLevel,
    /// Head at stride 8 (anchors 0, 1, 2).
    pub level_2_header: YoloV3Head,
}

impl YoloV3Mobile {
    /// `YOLOv3(num_classes, rfb=rfb, asff=asff)` of `models/yolov3_mobilev2.py`.
    pub fn new(num_classes: usize, asff: bool, rfb: bool, device: &Device) -> Self {
        let level = |l: usize| {
            if asff {
                MobileLevel::Fusion(Asff::mobile(l, rfb, device))
            } else {
                let c = MOBILE_ROUTE_CHANNELS[l];
                MobileLevel::Conv(Cbl::with_activation(
                    c,
                    2 * c,
                    3,
                    1,
                    CblActivation::Relu6,
                    device,
                ))
            }
        };
        let head = |l: usize| {
            let mut h = YoloV3Head::new(
                ANCHOR_MASKS[l],
                num_classes,
                STRIDES[l],
                HEAD_CHANNELS[l],
                rfb,
                true,
                device,
            );
            h.guide_wh = mobile_init(h.guide_wh);
            h.conv = mobile_init(h.conv);
            h
        };
        Self {
            module_list: mobilenet_v2_yolov3_list(device),
            level_0_conv: level(0),
            level_0_header: head(0),
            level_1_conv: level(1),
            level_1_header: head(1),
            level_2_conv: level(2),
            level_2_header: head(2),
        }
    }

    /// Whether the levels are fused by ASFF.
    pub fn is_asff(&self) -> bool {
        matches!(self.level_0_conv, MobileLevel::Fusion(_))
    }

    pub(super) fn levels(&self) -> [(&MobileLevel, &YoloV3Head); 3] {
        [
            (&self.level_0_conv, &self.level_0_header),
            (&self.level_1_conv, &self.level_1_header),
            (&self.level_2_conv, &self.level_2_header),
        ]
    }

    /// The raw outputs of the three heads and, with ASFF, the fusion outputs.
    pub(super) fn forward(&self, x: Tensor<4>) -> (Vec<HeadOutput>, Option<Vec<AsffOutput>>) {
        let (routes, _) = run_list(&self.module_list, &MOBILE_WIRING, x);
        let (mut levels, mut fusion) = (Vec::new(), Vec::new());
        for (l, (conv, head)) in self.levels().into_iter().enumerate() {
            let f = match conv {
                MobileLevel::Fusion(asff) => {
                    let f = asff.forward(routes[2].clone(), routes[3].clone(), routes[4].clone());
                    let fused = f.fused.clone();
                    fusion.push(f);
                    fused
                }
                MobileLevel::Conv(c) => c.forward(routes[l + 2].clone()),
            };
            levels.push(head.forward(f));
        }
        (levels, self.is_asff().then_some(fusion))
    }
}

/// A head's 1×1 convolution redrawn with the MobileNetV2 variant's initialisation
/// (`init_yolo` with `backbone == 'mobile'`: slope 0; zero bias).
fn mobile_init(conv: Conv2d) -> Conv2d {
    let [cout, cin, k, _] = conv.weight.dims();
    debug_assert_eq!(k, 1, "the heads' convolutions are 1x1");
    let device = conv.weight.device();
    let bias = conv.bias.is_some();
    conv2d_init(
        cin,
        cout,
        1,
        1,
        0,
        1,
        1,
        bias,
        mobile_initializer(),
        &device,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::yolov3::{YoloV3, YoloV3Backbone, YoloV3Spec};

    fn spec(asff: bool) -> YoloV3Spec {
        YoloV3Spec {
            num_classes: 2,
            asff,
            backbone: YoloV3Backbone::MobileNetV2,
            ..YoloV3Spec::default()
        }
    }

    #[test]
    fn mobilenet_v2_keeps_the_reference_indices_and_route_widths() {
        let device = Device::default();
        let list = mobilenet_v2_yolov3_list(&device);
        assert_eq!(list.len(), 40);
        let residual: Vec<usize> = list
            .iter()
            .enumerate()
            .filter_map(|(i, l)| match l {
                YoloV3Layer::InvertedResidual(b) if b.residual() => Some(i),
                _ => None,
            })
            .collect();
        // Repeats of a stage after its first block: 24 ch (3), 32 (5, 6), 64 (8-10),
        // 96 (12, 13), 160 (15, 16).
        assert_eq!(residual, [3, 5, 6, 8, 9, 10, 12, 13, 15, 16]);
        let slots = list
            .iter()
            .enumerate()
            .filter(|(_, l)| matches!(l, YoloV3Layer::DropBlock(_)))
            .map(|(i, _)| i)
            .collect::<Vec<_>>();
        assert_eq!(slots, [24, 30, 37]);
        // The first block (t = 1) has no expansion: depthwise, projection, norm.
        let YoloV3Layer::InvertedResidual(first) = &list[1] else {
            panic!("entry 1 is an inverted residual")
        };
        assert_eq!(first.conv.len(), 3);
        let (routes, _) = run_list(
            &list,
            &MOBILE_WIRING,
            Tensor::zeros([1, 3, 64, 64], &device),
        );
        let dims: Vec<[usize; 4]> = routes.iter().map(|r| r.dims()).collect();
        assert_eq!(
            dims,
            [
                [1, 32, 8, 8],
                [1, 96, 4, 4],
                [1, 512, 2, 2],
                [1, 256, 4, 4],
                [1, 128, 8, 8]
            ]
        );
    }

    #[test]
    fn both_mobile_models_give_three_sep_heads_and_asff_gives_fusion_weights() {
        let device = Device::default();
        for asff in [false, true] {
            let mut m = spec(asff).init(&device);
            assert!(matches!(&m, YoloV3::Mobile(x) if x.is_asff() == asff));
            assert_eq!(m.has_fusion(), asff);
            assert_eq!(m.module_list().len(), 40);
            assert_eq!(m.dropblocks_mut().len(), 3);
            let heads = m.heads();
            assert!(heads.iter().all(|h| h.Feature_adaption.dconv.is_none()));
            assert_eq!(heads[0].anchors()[2], (373.0, 326.0));
            let out = m.forward(Tensor::zeros([1, 3, 96, 96], &device));
            let dims: Vec<[usize; 4]> = out.levels.iter().map(|l| l.raw.dims()).collect();
            assert_eq!(dims, [[1, 28, 3, 3], [1, 28, 6, 6], [1, 28, 12, 12]]);
            assert_eq!(m.decode(&out).dims(), [1, 4 * (9 + 36 + 144), 7]);
            match out.fusion {
                Some(f) => {
                    assert!(asff);
                    let w: Vec<[usize; 4]> = f.iter().map(|l| l.weights.dims()).collect();
                    assert_eq!(w, [[1, 3, 3, 3], [1, 3, 6, 6], [1, 3, 12, 12]]);
                }
                None => assert!(!asff),
            }
        }
    }

    #[test]
    fn asff_mobile_compresses_level_1_at_level_2_only() {
        let device = Device::default();
        let m = Asff::mobile(2, false, &device);
        let c = m.compress_level_1.as_ref().expect("level 2 compresses x1");
        assert_eq!(c.conv.weight.dims(), [128, 256, 1, 1]);
        assert_eq!(
            m.compress_level_0.as_ref().unwrap().conv.weight.dims(),
            [128, 512, 1, 1]
        );
        assert!(Asff::mobile(1, false, &device).compress_level_1.is_none());
        let rfb = Asff::mobile(0, true, &device);
        assert_eq!(rfb.weight_levels.weight.dims(), [3, 24, 1, 1]);
        assert_eq!(
            rfb.stride_level_2.as_ref().unwrap().conv.weight.dims(),
            [512, 128, 3, 3]
        );
    }
}
