//! A deformable convolution (no mask, one weight group) as plain tensor ops: bilinear
//! sampling by row selection, then one GEMM. The ASFF heads' feature adaption uses it on
//! Burn's flex CPU backend.
//!
//! Why: flex's `deform_conv2d` backward is a single-threaded loop that re-samples the input
//! bilinearly for every output channel (`O(cout · cin · k² · h · w)` interpolations); it took
//! 71% of a YOLOv3 + ASFF training step (`perf`, width 0.25, 128 px, batch 8: 11.3 s a step).
//! Here the samples are taken once (`select` of `4 · k²` rows per position; its backward is a
//! scatter-add), weighted by the bilinear factors (which carry the offsets' gradient), and the
//! convolution is one matrix product, so autodiff's backward is two GEMMs and one scatter.
//! Same values as flex's kernel (torchvision's sampling: a point at `h ≤ −1`, `h ≥ H`,
//! `w ≤ −1` or `w ≥ W` gives 0; corners outside the map give 0), to float rounding.

use burn::nn::PaddingConfig2d;
use burn::nn::conv::DeformConv2d;
use burn::prelude::*;

use crate::model::fused::values;

/// `dconv.forward(x, offset, None)`: on flex through [`deform_conv2d`], elsewhere Burn's.
pub fn forward(dconv: &DeformConv2d, x: Tensor<4>, offset: Tensor<4>) -> Tensor<4> {
    let padding = match dconv.padding {
        PaddingConfig2d::Valid => Some([0, 0]),
        PaddingConfig2d::Explicit(t, l, b, r) if t == b && l == r => Some([t, l]),
        _ => None,
    };
    if let (true, 1, Some(padding)) = (on_flex_device(&x), dconv.weight_groups, padding) {
        return deform_conv2d(
            x,
            offset,
            dconv.weight.val(),
            dconv.bias.as_ref().map(|b| b.val()),
            dconv.stride,
            padding,
            dconv.dilation,
            dconv.offset_groups,
        );
    }
    dconv.forward(x, offset, None)
}

#[cfg(feature = "flex")]
fn on_flex_device(x: &Tensor<4>) -> bool {
    matches!(
        x.device().inner().as_dispatch(),
        burn::backend::DispatchDevice::Flex(_)
    )
}

#[cfg(not(feature = "flex"))]
fn on_flex_device(_x: &Tensor<4>) -> bool {
    false
}

/// A deformable convolution without mask and with one weight group.
///
/// # Shapes
/// - `x`: `[n, cin, h, w]`; `offset`: `[n, groups · k_h · k_w · 2, oh, ow]` (per group and
///   tap: Δy then Δx); `weight`: `[cout, cin, k_h, k_w]`; `bias`: `[cout]` → `[n, cout, oh, ow]`.
#[allow(clippy::too_many_arguments)]
pub fn deform_conv2d(
    x: Tensor<4>,
    offset: Tensor<4>,
    weight: Tensor<4>,
    bias: Option<Tensor<1>>,
    stride: [usize; 2],
    padding: [usize; 2],
    dilation: [usize; 2],
    groups: usize,
) -> Tensor<4> {
    let [n, cin, h, w] = x.dims();
    let [cout, _, kh, kw] = weight.dims();
    let [_, _, oh, ow] = offset.dims();
    let (k, p, cg) = (kh * kw, oh * ow, cin / groups);
    let device = x.device();
    // Sampling positions: base (constant) + offset (differentiable).
    let mut base_y = Vec::with_capacity(k * p);
    let mut base_x = Vec::with_capacity(k * p);
    for ky in 0..kh {
        for kx in 0..kw {
            for i in 0..oh {
                for j in 0..ow {
                    base_y.push((i * stride[0] + ky * dilation[0]) as f32 - padding[0] as f32);
                    base_x.push((j * stride[1] + kx * dilation[1]) as f32 - padding[1] as f32);
                }
            }
        }
    }
    let base = |v: Vec<f32>| Tensor::<4>::from_data(TensorData::new(v, [1, 1, k, p]), &device);
    let off = offset.reshape([n, groups, k, 2, p]);
    let dy = off.clone().narrow(3, 0, 1).reshape([n, groups, k, p]);
    let dx = off.narrow(3, 1, 1).reshape([n, groups, k, p]);
    let sy = dy.add(base(base_y));
    let sx = dx.add(base(base_x));
    // The integer corners, validity and row indices, on the host from the values.
    let vy = values(sy.clone().detach());
    let vx = values(sx.clone().detach());
    let m = n * groups * k * p;
    let (mut y0s, mut x0s) = (Vec::with_capacity(m), Vec::with_capacity(m));
    let mut masks = vec![vec![0f32; m]; 4];
    let mut rows = vec![0i64; 4 * m];
    for (e, (&yy, &xx)) in vy.iter().zip(&vx).enumerate() {
        let (y0, x0) = (yy.floor(), xx.floor());
        y0s.push(y0);
        x0s.push(x0);
        let inside = yy > -1.0 && yy < h as f32 && xx > -1.0 && xx < w as f32;
        let (b, g) = (e / (groups * k * p), e / (k * p) % groups);
        let kp = e % (k * p);
        for (c, (cy, cx)) in [(0, 0), (0, 1), (1, 0), (1, 1)].into_iter().enumerate() {
            let (yc, xc) = (y0 as i64 + cy, x0 as i64 + cx);
            let valid = inside && yc >= 0 && yc < h as i64 && xc >= 0 && xc < w as i64;
            masks[c][e] = valid as u8 as f32;
            // Row (b, g, yc, xc) of the channels-last input; invalid corners read row 0
            // with weight 0.
            let row = if valid {
                ((b * groups + g) * h + yc as usize) * w + xc as usize
            } else {
                0
            };
            // Index order (b, g, corner, tap·position).
            rows[((b * groups + g) * 4 + c) * k * p + kp] = row as i64;
        }
    }
    let t = |v: Vec<f32>| Tensor::<4>::from_data(TensorData::new(v, [n, groups, k, p]), &device);
    let ly = sy.sub(t(y0s));
    let lx = sx.sub(t(x0s));
    let hy = ly.clone().neg().add_scalar(1.0);
    let hx = lx.clone().neg().add_scalar(1.0);
    let [m0, m1, m2, m3]: [Vec<f32>; 4] = masks.try_into().expect("four corners");
    let weights = Tensor::stack::<5>(
        vec![
            hy.clone().mul(hx.clone()).mul(t(m0)),
            hy.mul(lx.clone()).mul(t(m1)),
            ly.clone().mul(hx).mul(t(m2)),
            ly.mul(lx).mul(t(m3)),
        ],
        2,
    ); // [n, groups, 4, k, p]
    // Channels-last input rows: [n · groups · h · w, cg].
    let table = x
        .reshape([n, groups, cg, h * w])
        .permute([0, 1, 3, 2])
        .reshape([n * groups * h * w, cg]);
    let idx = Tensor::<1, Int>::from_data(TensorData::new(rows, [4 * m]), &device);
    let samples = table.select(0, idx).reshape([n, groups, 4, k * p, cg]);
    let cols = samples
        .mul(weights.reshape([n, groups, 4, k * p, 1]))
        .sum_dim(2) // [n, groups, 1, k·p, cg]
        .reshape([n, groups, k, p, cg])
        .permute([0, 1, 4, 2, 3]) // [n, groups, cg, k, p]
        .reshape([n, cin * k, p]); // row c·k + tap, c = g·cg + channel
    let out = weight
        .reshape([cout, cin * k])
        .matmul(cols.permute([1, 0, 2]).reshape([cin * k, n * p]))
        .reshape([cout, n, p])
        .permute([1, 0, 2]);
    let out = match bias {
        Some(b) => out.add(b.reshape([1, cout, 1])),
        None => out,
    };
    out.reshape([n, cout, oh, ow])
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::nn::conv::DeformConv2dConfig;
    use burn::tensor::Distribution;

    fn max_diff(a: Tensor<4>, b: Tensor<4>) -> f32 {
        (a - b).abs().max().into_scalar::<f32>()
    }

    #[test]
    fn values_and_gradients_equal_burns_deformable_convolution() {
        let device = Device::default().autodiff();
        let (n, cin, cout, h, w, groups) = (2, 8, 6, 7, 9, 4);
        let dconv = DeformConv2dConfig::new([cin, cout], [3, 3])
            .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
            .with_offset_groups(groups)
            .init(&device);
        let x = Tensor::<4>::random([n, cin, h, w], Distribution::Normal(0.0, 1.0), &device);
        // Offsets up to ±4 px: many samples between pixels, some outside the map.
        let offset = Tensor::<4>::random(
            [n, groups * 9 * 2, h, w],
            Distribution::Uniform(-4.0, 4.0),
            &device,
        );
        let (x1, o1) = (x.clone().require_grad(), offset.clone().require_grad());
        let (x2, o2) = (x.require_grad(), offset.require_grad());
        let want = dconv.forward(x1.clone(), o1.clone(), None);
        // `forward` takes the composite on flex, autodiff included.
        assert!(on_flex_device(&x2));
        let got = deform_conv2d(
            x2.clone(),
            o2.clone(),
            dconv.weight.val(),
            dconv.bias.as_ref().map(|b| b.val()),
            [1, 1],
            [1, 1],
            [1, 1],
            groups,
        );
        assert!(max_diff(got.clone(), want.clone()) < 1e-4);
        // The same upstream gradient through both.
        let up = Tensor::<4>::random(want.dims(), Distribution::Normal(0.0, 1.0), &device);
        let g1 = want.mul(up.clone()).sum().backward();
        let g2 = got.mul(up).sum().backward();
        let pairs = [
            (x1.grad(&g1).unwrap(), x2.grad(&g2).unwrap(), "input"),
            (o1.grad(&g1).unwrap(), o2.grad(&g2).unwrap(), "offset"),
        ];
        for (a, b, what) in pairs {
            let d = max_diff(a, b);
            assert!(d < 1e-3, "{what} gradient differs by {d}");
        }
        let (wa, wb) = (
            dconv.weight.grad(&g1).unwrap(),
            dconv.weight.grad(&g2).unwrap(),
        );
        assert!(max_diff(wa, wb) < 1e-3, "weight gradient");
    }
}
