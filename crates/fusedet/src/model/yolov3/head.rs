//! The YOLOv3 head of the ASFF reference (`YOLOv3Head` in `models/yolov3_head.py` and
//! `FeatureAdaption` in `models/network_blocks.py` of GOATmessi7/ASFF; SPEC §9.2): guided
//! anchoring with an anchor-free slot and feature adaption by a deformable convolution.
//!
//! Per position, 4 slots: the level's 3 anchors and 1 anchor-free slot of base size
//! 4 · stride. `guide_wh` (1×1, in_ch → 8, biased) predicts each slot's log-scale (w, h)
//! multipliers; `Feature_adaption` turns the **detached** guide into the offsets of a 3×3
//! deformable convolution (in_ch → in_ch, 4 deformable groups, biased) through a grouped 1×1
//! conv (8 → 72, 4 groups), optionally after an RFB block on the features; `conv` (1×1,
//! biased) gives `4 · (5 + C)` channels: per slot t_x, t_y, t_w, t_h, objectness, C classes.

// The derived Module code names variables after the field `Feature_adaption`, the
// reference's attribute name.
#![allow(non_snake_case)]

use burn::module::Module;
use burn::nn::PaddingConfig2d;
use burn::nn::conv::{Conv2d, DeformConv2d, DeformConv2dConfig};
use burn::prelude::*;
use burn::tensor::activation::sigmoid;

use super::blocks::{RfbBlock, conv2d};

/// The 9 anchors `(w, h)` in input pixels with guided anchoring (the reference's list: the
/// last one is (121, 240), not Darknet's (373, 326)).
pub const ANCHORS: [(f32, f32); 9] = [
    (10.0, 13.0),
    (16.0, 30.0),
    (33.0, 23.0),
    (30.0, 61.0),
    (62.0, 45.0),
    (42.0, 119.0),
    (116.0, 90.0),
    (156.0, 198.0),
    (121.0, 240.0),
];

/// The anchors without guided anchoring (`sep=True`): the last one is (373, 326).
pub const ANCHORS_SEP: [(f32, f32); 9] = [
    (10.0, 13.0),
    (16.0, 30.0),
    (33.0, 23.0),
    (30.0, 61.0),
    (62.0, 45.0),
    (42.0, 119.0),
    (116.0, 90.0),
    (156.0, 198.0),
    (373.0, 326.0),
];

/// Slots per position: 3 anchors + 1 anchor-free.
pub const N_SLOTS: usize = 4;

/// `FeatureAdaption(in_ch, in_ch, 4, rfb, sep)`; empty (the identity) when `sep`.
#[derive(Module, Debug)]
pub struct FeatureAdaption {
    /// Guide → offsets: 1×1, 8 → 72, 4 groups, biased.
    pub conv_offset: Option<Conv2d>,
    /// 3×3 deformable conv, in_ch → in_ch, padding 1, 4 deformable groups, biased.
    pub dconv: Option<DeformConv2d>,
    /// RFB block applied to the features before `dconv`.
    pub rfb: Option<RfbBlock>,
}

impl FeatureAdaption {
    /// `FeatureAdaption(in_ch, in_ch, n_anchors = 4, rfb, sep)`.
    pub fn new(in_ch: usize, rfb: bool, sep: bool, device: &Device) -> Self {
        if sep {
            return Self {
                conv_offset: None,
                dconv: None,
                rfb: None,
            };
        }
        let n = N_SLOTS;
        Self {
            conv_offset: Some(conv2d(2 * n, 2 * 9 * n, 1, 1, 0, 1, n, true, device)),
            // The reference's DeformConv2d keeps its own initialisation (Kaiming-uniform,
            // a = √5, and a uniform bias), which is Burn's default here.
            dconv: Some(
                DeformConv2dConfig::new([in_ch, in_ch], [3, 3])
                    .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
                    .with_offset_groups(n)
                    .init(device),
            ),
            rfb: rfb.then(|| RfbBlock::new(in_ch, false, device)),
        }
    }

    /// # Shapes
    /// - `x`: `[n, in_ch, h, w]`, `guide`: `[n, 8, h, w]` → `[n, in_ch, h, w]`.
    pub fn forward(&self, x: Tensor<4>, guide: Tensor<4>) -> Tensor<4> {
        let (Some(conv_offset), Some(dconv)) = (&self.conv_offset, &self.dconv) else {
            return x;
        };
        let x = match &self.rfb {
            Some(rfb) => rfb.forward(x),
            None => x,
        };
        let offset = conv_offset.forward(guide.detach());
        crate::model::deform::forward(dconv, x, offset)
    }
}

/// A head's raw outputs.
#[derive(Clone, Debug)]
pub struct HeadOutput {
    /// The output convolution `[n, 4 · (5 + C), h, w]`, slot-major (slot `a` holds channels
    /// `a (5 + C) .. (a + 1)(5 + C)`).
    pub raw: Tensor<4>,
    /// The guide (`guide_wh`), before `exp`: `[n, 8, h, w]`, slot-major (w, h).
    pub guide: Tensor<4>,
}

/// `YOLOv3Head(anch_mask, n_classes, stride, in_ch, rfb, sep)`.
#[derive(Module, Debug)]
pub struct YoloV3Head {
    /// 1×1, in_ch → 8, biased.
    pub guide_wh: Conv2d,
    /// Named as in the reference's state dict (`Feature_adaption.dconv.weight`, ...).
    pub Feature_adaption: FeatureAdaption,
    /// 1×1, in_ch → 4 · (5 + C), biased.
    pub conv: Conv2d,
    #[module(skip)]
    anchors: [(f32, f32); 3],
    #[module(skip)]
    all_anchors: [(f32, f32); 9],
    #[module(skip)]
    anch_mask: [usize; 3],
    #[module(skip)]
    stride: usize,
    #[module(skip)]
    num_classes: usize,
}

impl YoloV3Head {
    /// The head of the level with anchor mask `anch_mask` (e.g. `[6, 7, 8]` at stride 32).
    pub fn new(
        anch_mask: [usize; 3],
        num_classes: usize,
        stride: usize,
        in_ch: usize,
        rfb: bool,
        sep: bool,
        device: &Device,
    ) -> Self {
        let all = if sep { ANCHORS_SEP } else { ANCHORS };
        Self {
            guide_wh: conv2d(in_ch, 2 * N_SLOTS, 1, 1, 0, 1, 1, true, device),
            Feature_adaption: FeatureAdaption::new(in_ch, rfb, sep, device),
            conv: conv2d(
                in_ch,
                N_SLOTS * (5 + num_classes),
                1,
                1,
                0,
                1,
                1,
                true,
                device,
            ),
            anchors: anch_mask.map(|i| all[i]),
            all_anchors: all,
            anch_mask,
            stride,
            num_classes,
        }
    }

    /// The level's stride.
    pub fn stride(&self) -> usize {
        self.stride
    }

    /// The level's three anchors `(w, h)` in pixels.
    pub fn anchors(&self) -> [(f32, f32); 3] {
        self.anchors
    }

    /// All 9 anchors `(w, h)` of the model ([`ANCHORS`], or [`ANCHORS_SEP`] with `sep`), over
    /// which the loss assigns a box to a level.
    pub fn all_anchors(&self) -> [(f32, f32); 9] {
        self.all_anchors
    }

    /// Indices of this level's anchors in [`Self::all_anchors`] (`anch_mask`).
    pub fn anch_mask(&self) -> [usize; 3] {
        self.anch_mask
    }

    /// Number of classes.
    pub fn num_classes(&self) -> usize {
        self.num_classes
    }

    /// # Shapes
    /// - `x`: `[n, in_ch, h, w]` → [`HeadOutput`].
    pub fn forward(&self, x: Tensor<4>) -> HeadOutput {
        let guide = self.guide_wh.forward(x.clone());
        let adapted = self.Feature_adaption.forward(x, guide.clone());
        HeadOutput {
            raw: self.conv.forward(adapted),
            guide,
        }
    }

    /// The guided anchor sizes `exp(guide) · base`: base = the slot's anchor for slots 0..3,
    /// 4 · stride for the anchor-free slot 3.
    ///
    /// # Shapes
    /// - `guide`: `[n, 8, h, w]` → `[n, 4, h, w, 2]` (w, h in pixels).
    pub fn guided_anchors(&self, guide: Tensor<4>) -> Tensor<5> {
        let [n, _, h, w] = guide.dims();
        let device = guide.device();
        let free = (4 * self.stride) as f32;
        let base: Vec<f32> = self
            .anchors
            .iter()
            .flat_map(|&(aw, ah)| [aw, ah])
            .chain([free, free])
            .collect();
        let base = Tensor::<5>::from_data(TensorData::new(base, [1, N_SLOTS, 1, 1, 2]), &device);
        guide
            .exp()
            .reshape([n, N_SLOTS, 2, h, w])
            .permute([0, 1, 3, 4, 2])
            .mul(base)
    }

    /// The eval-mode output of the reference head: per slot and cell (slot-major, then row,
    /// column) `(x, y, w, h)` in input pixels — `x = (σ(t_x) + col) · stride`,
    /// `w = exp(t_w) · guided anchor w` — then σ(objectness) and σ(class logits).
    ///
    /// # Shapes
    /// - `out`: the raw maps at `h × w` → `[n, 4 · h · w, 5 + C]`.
    pub fn decode(&self, out: &HeadOutput) -> Tensor<3> {
        let [n, _, h, w] = out.raw.dims();
        let ch = 5 + self.num_classes;
        let device = out.raw.device();
        let p = out
            .raw
            .clone()
            .reshape([n, N_SLOTS, ch, h, w])
            .permute([0, 1, 3, 4, 2]);
        let anchors = self.guided_anchors(out.guide.clone());
        let s = self.stride as f64;
        let cols = Tensor::<1, Int>::arange(0..w as i64, &device)
            .float()
            .reshape([1, 1, 1, w, 1]);
        let rows = Tensor::<1, Int>::arange(0..h as i64, &device)
            .float()
            .reshape([1, 1, h, 1, 1]);
        let part = |a: usize, b: usize| p.clone().slice([0..n, 0..N_SLOTS, 0..h, 0..w, a..b]);
        let x = sigmoid(part(0, 1)).add(cols).mul_scalar(s);
        let y = sigmoid(part(1, 2)).add(rows).mul_scalar(s);
        let wh = part(2, 4).exp().mul(anchors);
        let rest = sigmoid(part(4, ch));
        Tensor::cat(vec![x, y, wh, rest], 4).reshape([n, N_SLOTS * h * w, ch])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn head_maps_have_four_slots_of_five_plus_classes() {
        let device = Device::default();
        let x = Tensor::<4>::random([2, 16, 3, 3], burn::tensor::Distribution::Default, &device);
        for (rfb, sep) in [(false, false), (true, false), (false, true)] {
            let head = YoloV3Head::new([3, 4, 5], 2, 16, 16, rfb, sep, &device);
            assert_eq!(head.Feature_adaption.dconv.is_some(), !sep);
            assert_eq!(head.Feature_adaption.rfb.is_some(), rfb);
            let out = head.forward(x.clone());
            assert_eq!(out.raw.dims(), [2, 4 * 7, 3, 3]);
            assert_eq!(out.guide.dims(), [2, 8, 3, 3]);
            assert_eq!(head.decode(&out).dims(), [2, 4 * 9, 7]);
        }
        let offsets = YoloV3Head::new([3, 4, 5], 2, 16, 16, false, false, &device);
        let conv_offset = offsets.Feature_adaption.conv_offset.as_ref().unwrap();
        assert_eq!(conv_offset.weight.dims(), [72, 2, 1, 1]);
        assert_eq!(
            YoloV3Head::new([6, 7, 8], 1, 32, 8, false, true, &device).anchors()[2],
            (373.0, 326.0)
        );
    }

    #[test]
    fn decode_puts_boxes_on_the_grid_with_guided_anchor_sizes() {
        let device = Device::default();
        let head = YoloV3Head::new([6, 7, 8], 2, 32, 16, false, false, &device);
        // Zero logits everywhere; the guide doubles every slot's size (exp(ln 2) = 2).
        let raw = Tensor::<4>::zeros([1, 4 * 7, 2, 3], &device);
        let guide = Tensor::<4>::full([1, 8, 2, 3], std::f32::consts::LN_2, &device);
        let d = head.decode(&HeadOutput { raw, guide });
        assert_eq!(d.dims(), [1, 4 * 6, 7]);
        let v = d.into_data().try_to_vec::<f32>().unwrap();
        let row = |slot: usize, r: usize, c: usize| &v[((slot * 2 + r) * 3 + c) * 7..][..7];
        // Slot 1 (anchor 7 = (156, 198)) at row 1, column 2.
        let b = row(1, 1, 2);
        assert!((b[0] - 2.5 * 32.0).abs() < 1e-4 && (b[1] - 1.5 * 32.0).abs() < 1e-4);
        assert!((b[2] - 2.0 * 156.0).abs() < 1e-3 && (b[3] - 2.0 * 198.0).abs() < 1e-3);
        assert!(b[4..].iter().all(|&p| (p - 0.5).abs() < 1e-6));
        // The anchor-free slot's base size is 4 · stride.
        let f = row(3, 0, 0);
        assert!((f[2] - 2.0 * 128.0).abs() < 1e-3 && (f[3] - 2.0 * 128.0).abs() < 1e-3);
        // The last anchor of the stride-32 level is (121, 240) with guided anchoring.
        let a = row(2, 0, 1);
        assert!((a[2] - 2.0 * 121.0).abs() < 1e-3 && (a[3] - 2.0 * 240.0).abs() < 1e-3);
    }

    #[test]
    fn the_guide_is_detached_from_the_feature_adaption() {
        use burn::optim::GradientsParams;
        let device = Device::default().autodiff();
        let head = YoloV3Head::new([0, 1, 2], 1, 8, 8, false, false, &device);
        let x = Tensor::<4>::random([1, 8, 4, 4], burn::tensor::Distribution::Default, &device);
        // A loss on the class/box map only: gradients reach the offset conv (through the
        // deformable conv's offsets) but not guide_wh, whose output feeds the offsets detached.
        let loss = head.forward(x).raw.powi_scalar(2).sum();
        let grads = GradientsParams::from_grads(loss.backward(), &head);
        let offset_w = head
            .Feature_adaption
            .conv_offset
            .as_ref()
            .unwrap()
            .weight
            .id;
        let g: Tensor<4> = grads.get(offset_w).expect("offset conv gradient");
        assert!(g.abs().sum().into_scalar::<f32>() > 0.0);
        assert!(grads.get::<4>(head.guide_wh.weight.id).is_none());
    }
}
