//! Fused kernels for the element-wise chains of the PP-OCR detectors, on Burn's flex CPU
//! backend.
//!
//! Flex runs every element-wise tensor op as its own pass over the activations: single-threaded
//! (its unary ops are plain loops), and into a new buffer whenever the input is still shared
//! (`hard_swish(x)` is `x * hard_sigmoid(x)`: one allocation, two passes). PP-LCNetV3 follows
//! each of its ~30 convolutions with hard-swish and a learnable affine (four passes), the
//! RSE-FPN upsamples, adds and concatenates at stride 4. A profile of `fusedet detect` put a
//! third of the forward in those passes (docs/performance.md). Each function here does one
//! such chain in one multi-threaded pass, in place when the buffer is not shared, with the same
//! f32 operations in the same order as the tensor-op form: the results are bit-identical
//! (the tests compare them).
//!
//! They apply to float32 tensors on flex that autodiff does not track; for anything else
//! (GPU backends, training) each falls back to the tensor ops it replaces, so a model calls
//! them unconditionally.

// `Err` hands the input tensor back (256 bytes) for the tensor-op fallback: one move per
// layer, not worth a box.
#![allow(clippy::result_large_err)]

#[cfg(feature = "flex")]
use burn::backend::Flex;
#[cfg(feature = "flex")]
use burn::backend::flex::FlexTensor;
use burn::prelude::*;
#[cfg(feature = "flex")]
use burn::tensor::DType;
use burn::tensor::activation::hard_swish;
use rayon::prelude::*;

/// Nearest-neighbour upsampling by an integer factor (ONNX `Resize` nearest, asymmetric,
/// floor).
///
/// # Shapes
/// - `x`: `[n, c, h, w]` → `[n, c, h * factor, w * factor]`.
pub fn upsample_nearest(x: Tensor<4>, factor: usize) -> Tensor<4> {
    if factor == 1 {
        return x;
    }
    let [n, c, h, w] = x.dims();
    // A broadcast view copied once (two `repeat_dim`s copied twice: 2x slower on flex, same
    // values).
    x.reshape([n, c, h, 1, w, 1])
        .expand([n, c, h, factor, w, factor])
        .reshape([n, c, h * factor, w * factor])
}

/// Elements per parallel chunk of an element-wise pass.
const CHUNK: usize = 1 << 15;

/// Without the flex backend there is no flex tensor: every kernel takes its fallback.
#[cfg(not(feature = "flex"))]
enum FlexTensor {}

/// The flex primitive behind `x` (float32, untracked), or `x` back.
#[cfg(feature = "flex")]
fn flex<const D: usize>(x: Tensor<D>) -> Result<FlexTensor, Tensor<D>> {
    match x.clone().try_into_primitive::<Flex>() {
        Ok(t) if t.dtype() == DType::F32 => {
            drop(x);
            Ok(t)
        }
        _ => Err(x),
    }
}

#[cfg(not(feature = "flex"))]
fn flex<const D: usize>(x: Tensor<D>) -> Result<FlexTensor, Tensor<D>> {
    Err(x)
}

/// Whether `x` is a float32 flex tensor that autodiff does not track (the kernels' domain).
#[cfg(feature = "flex")]
pub fn on_flex<const D: usize>(x: &Tensor<D>) -> bool {
    matches!(x.clone().try_into_primitive::<Flex>(), Ok(t) if t.dtype() == DType::F32)
}

/// Whether `x` is a float32 flex tensor that autodiff does not track: never without flex.
#[cfg(not(feature = "flex"))]
pub fn on_flex<const D: usize>(_x: &Tensor<D>) -> bool {
    false
}

/// Contiguous row-major data of `t` (no copy when `t` is contiguous and not shared).
#[cfg(feature = "flex")]
fn data(t: FlexTensor) -> TensorData {
    t.into_data()
}

#[cfg(not(feature = "flex"))]
fn data(t: FlexTensor) -> TensorData {
    match t {}
}

#[cfg(feature = "flex")]
fn tensor<const D: usize>(d: TensorData) -> Tensor<D> {
    Tensor::from_primitive::<Flex>(FlexTensor::from_data(d))
}

/// Only reached with data taken from a flex tensor ([`data`]), which a build without flex
/// cannot have.
#[cfg(not(feature = "flex"))]
fn tensor<const D: usize>(_d: TensorData) -> Tensor<D> {
    unreachable!("fused kernels run on flex tensors only")
}

fn f32s(d: &TensorData) -> &[f32] {
    d.as_slice::<f32>().expect("float32 data")
}

fn f32s_mut(d: &mut TensorData) -> &mut [f32] {
    d.as_mut_slice::<f32>().expect("float32 data")
}

/// `x ↦ hard_swish(x) · scale + bias` (PP-LCNetV3's activation and the learnable affine after
/// it), as `hard_swish(x).mul_scalar(scale).add_scalar(bias)`.
pub fn hard_swish_affine<const D: usize>(x: Tensor<D>, scale: f32, bias: f32) -> Tensor<D> {
    match flex(x) {
        Ok(t) => {
            let mut d = data(t);
            let alpha = (1.0f64 / 6.0) as f32;
            f32s_mut(&mut d).par_chunks_mut(CHUNK).for_each(|c| {
                for v in c {
                    let x = *v;
                    *v = x * (alpha * x + 0.5).clamp(0.0, 1.0) * scale + bias;
                }
            });
            tensor(d)
        }
        Err(x) => hard_swish(x).mul_scalar(scale).add_scalar(bias),
    }
}

/// The columns of a `k × k` convolution with stride `stride` and zero padding `pad` on every
/// side: `[n, c, h, w]` → `[n, c·k·k, oh, ow]`, channel `(ci·k + ky)·k + kx` holding
/// `x[ci, i·stride + ky − pad, j·stride + kx − pad]` (0 outside), so that the convolution is
/// a 1×1 convolution of the columns with the weight reshaped to `[cout, c·k·k, 1, 1]`. For
/// strided convolutions of few input channels (a stem), which flex runs slowly otherwise.
pub fn im2col(x: Tensor<4>, k: usize, stride: usize, pad: usize) -> Result<Tensor<4>, Tensor<4>> {
    let [n, c, h, w] = x.dims();
    if h + 2 * pad < k || w + 2 * pad < k || stride == 0 {
        return Err(x);
    }
    let (oh, ow) = (
        (h + 2 * pad - k) / stride + 1,
        (w + 2 * pad - k) / stride + 1,
    );
    let xd = data(flex(x)?);
    let xs = f32s(&xd);
    let mut out = vec![0.0f32; n * c * k * k * oh * ow];
    out.par_chunks_mut(oh * ow)
        .enumerate()
        .for_each(|(plane, o)| {
            let (b, rest) = (plane / (c * k * k), plane % (c * k * k));
            let (ci, ky, kx) = (rest / (k * k), rest / k % k, rest % k);
            let src = &xs[(b * c + ci) * h * w..(b * c + ci + 1) * h * w];
            for (i, row) in o.chunks_exact_mut(ow).enumerate() {
                let y = (i * stride + ky) as isize - pad as isize;
                if y < 0 || y >= h as isize {
                    continue;
                }
                let srow = &src[y as usize * w..(y as usize + 1) * w];
                for (j, v) in row.iter_mut().enumerate() {
                    let xx = (j * stride + kx) as isize - pad as isize;
                    if xx >= 0 && xx < w as isize {
                        *v = srow[xx as usize];
                    }
                }
            }
        });
    Ok(tensor(TensorData::new(out, [n, c * k * k, oh, ow])))
}

/// An activation fused into the end of a kernel.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Act {
    /// None.
    Identity,
    /// `max(x, 0)`.
    Relu,
    /// The logistic sigmoid, as flex computes it (`1 / (1 + e^−x)` for `x ≥ 0`,
    /// `e^x / (1 + e^x)` below).
    Sigmoid,
}

impl Act {
    #[inline]
    fn apply(self, x: f32) -> f32 {
        match self {
            Act::Identity => x,
            Act::Relu => x.max(0.0),
            Act::Sigmoid if x >= 0.0 => 1.0 / (1.0 + (-x).exp()),
            Act::Sigmoid => {
                let e = x.exp();
                e / (1.0 + e)
            }
        }
    }

    /// The tensor ops the kernels reproduce.
    pub fn tensor<const D: usize>(self, x: Tensor<D>) -> Tensor<D> {
        match self {
            Act::Identity => x,
            Act::Relu => burn::tensor::activation::relu(x),
            Act::Sigmoid => burn::tensor::activation::sigmoid(x),
        }
    }

    /// Its name, for `bench --profile`.
    pub fn kind(self) -> &'static str {
        match self {
            Act::Identity => "identity",
            Act::Relu => "relu",
            Act::Sigmoid => "sigmoid",
        }
    }
}

/// `act(x)` in one parallel pass, in place when `x` is not shared (flex's own activations
/// are single-threaded loops), as [`Act::tensor`] computes it.
pub fn activate<const D: usize>(x: Tensor<D>, act: Act) -> Tensor<D> {
    if act == Act::Identity {
        return x;
    }
    match flex(x) {
        Ok(t) => {
            let mut d = data(t);
            f32s_mut(&mut d).par_chunks_mut(CHUNK).for_each(|c| {
                for v in c {
                    *v = act.apply(*v);
                }
            });
            tensor(d)
        }
        Err(x) => act.tensor(x),
    }
}

/// A small tensor's values on the host (biases, weights, squeeze-excite scales).
pub fn values<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    t.into_data().iter::<f32>().collect()
}

/// The second half of a 2×2 stride-2 transposed convolution run as a 1×1 convolution:
/// `y` `[n, 4·cout, h, w]` (channel `(o·2 + ky)·2 + kx`) → `[n, cout, 2h, 2w]` with
/// `out[o, 2i+ky, 2j+kx] = act(y[(o·2+ky)·2+kx, i, j] + bias[o])` (the 2×2 windows of a
/// stride-2 transposed convolution do not overlap, so each output pixel is one GEMM entry).
/// `Err(y)` off flex.
pub fn pixel_shuffle_2x2(
    y: Tensor<4>,
    cout: usize,
    bias: Option<&[f32]>,
    act: Act,
) -> Result<Tensor<4>, Tensor<4>> {
    let [n, c4, h, w] = y.dims();
    if c4 != 4 * cout {
        return Err(y);
    }
    let yd = data(flex(y)?);
    let ys = f32s(&yd);
    let (oh, ow) = (2 * h, 2 * w);
    let mut out = vec![0.0f32; n * cout * oh * ow];
    out.par_chunks_mut(oh * ow)
        .enumerate()
        .for_each(|(plane, o)| {
            let (b, oc) = (plane / cout, plane % cout);
            let bv = bias.map_or(0.0, |bias| bias[oc]);
            for (r, row) in o.chunks_exact_mut(ow).enumerate() {
                let (i, ky) = (r / 2, r % 2);
                let c0 = b * c4 + (oc * 2 + ky) * 2;
                let s0 = &ys[(c0 * h + i) * w..(c0 * h + i + 1) * w];
                let s1 = &ys[((c0 + 1) * h + i) * w..((c0 + 1) * h + i + 1) * w];
                for ((pair, a), c) in row.chunks_exact_mut(2).zip(s0).zip(s1) {
                    pair[0] = act.apply(*a + bv);
                    pair[1] = act.apply(*c + bv);
                }
            }
        });
    Ok(tensor(TensorData::new(out, [n, cout, oh, ow])))
}

/// `act(conv.forward(x))` for a transposed convolution; a 2×2 stride-2 one without padding
/// (the DB head's upsampling) runs on flex as one 1×1 convolution (GEMM) and
/// [`pixel_shuffle_2x2`], with the bias and the activation in the same pass: flex's own
/// transposed convolution took 15.6 of PP-OCRv4's 198 ms at 736×1280 (`bench --profile`).
pub fn conv_transpose(conv: &burn::nn::conv::ConvTranspose2d, x: Tensor<4>, act: Act) -> Tensor<4> {
    let [cin, cout, kh, kw] = conv.weight.dims();
    let fast = [kh, kw] == [2, 2]
        && conv.stride == [2, 2]
        && conv.padding == [0, 0]
        && conv.padding_out == [0, 0]
        && conv.dilation == [1, 1]
        && conv.groups == 1
        && on_flex(&x)
        && on_flex(&conv.weight.val());
    if !fast {
        return act.tensor(conv.forward(x));
    }
    let bias = conv.bias.as_ref().map(|b| values(b.val()));
    if cout <= TINY_COUT {
        let weight = values(conv.weight.val());
        match conv_transpose_tiny(x, &weight, cout, bias.as_deref(), act) {
            Ok(out) => return out,
            Err(_) => unreachable!("checked on flex above"),
        }
    }
    // [cin, cout, ky, kx] -> [cout, ky, kx, cin]: output channel (o * 2 + ky) * 2 + kx.
    let w1 = conv
        .weight
        .val()
        .permute([1, 2, 3, 0])
        .reshape([cout * 4, cin, 1, 1]);
    let y = burn::tensor::module::conv2d(
        x,
        w1,
        None,
        burn::tensor::ops::ConvOptions::new([1, 1], [0, 0], [1, 1], 1),
    );
    match pixel_shuffle_2x2(y, cout, bias.as_deref(), act) {
        Ok(out) => out,
        Err(_) => unreachable!("a flex input gives a flex 1x1 output"),
    }
}

/// The most output channels [`conv_transpose`] computes directly ([`conv_transpose_tiny`])
/// instead of through a GEMM, whose `4 · cout` rows would be too few to use it.
const TINY_COUT: usize = 2;

/// A 2×2 stride-2 transposed convolution to at most [`TINY_COUT`] channels (the DB head's last
/// layer, 24 → 1) in one pass: per output row, the two taps' dot products over the input
/// channels accumulated as whole rows (vectorised), then interleaved with the bias and the
/// activation. `weight` is `[cin, cout, 2, 2]` flattened. `Err(x)` off flex.
pub fn conv_transpose_tiny(
    x: Tensor<4>,
    weight: &[f32],
    cout: usize,
    bias: Option<&[f32]>,
    act: Act,
) -> Result<Tensor<4>, Tensor<4>> {
    let [n, cin, h, w] = x.dims();
    if weight.len() != cin * cout * 4 {
        return Err(x);
    }
    let xd = data(flex(x)?);
    let xs = f32s(&xd);
    let (oh, ow) = (2 * h, 2 * w);
    let mut out = vec![0.0f32; n * cout * oh * ow];
    out.par_chunks_mut(ow).enumerate().for_each(|(row, o)| {
        let (plane, r) = (row / oh, row % oh);
        let (b, oc) = (plane / cout, plane % cout);
        let (i, ky) = (r / 2, r % 2);
        let bv = bias.map_or(0.0, |bias| bias[oc]);
        let (mut a0, mut a1) = (vec![0.0f32; w], vec![0.0f32; w]);
        for ci in 0..cin {
            let k = ((ci * cout + oc) * 2 + ky) * 2;
            let (w0, w1) = (weight[k], weight[k + 1]);
            let src = &xs[((b * cin + ci) * h + i) * w..((b * cin + ci) * h + i + 1) * w];
            for ((p, q), v) in a0.iter_mut().zip(a1.iter_mut()).zip(src) {
                *p += w0 * *v;
                *q += w1 * *v;
            }
        }
        for ((pair, p), q) in o.chunks_exact_mut(2).zip(&a0).zip(&a1) {
            pair[0] = act.apply(*p + bv);
            pair[1] = act.apply(*q + bv);
        }
    });
    Ok(tensor(TensorData::new(out, [n, cout, oh, ow])))
}

/// Squeeze-excite's re-weighting: `x · a` (or `x + x · a` with `residual`, the RSE layer's
/// shortcut), `a` of shape `[n, c, 1, 1]`.
pub fn scale_channels(x: Tensor<4>, a: Tensor<4>, residual: bool) -> Tensor<4> {
    let [n, c, h, w] = x.dims();
    match flex(x) {
        Ok(t) => {
            let a = values(a);
            let mut d = data(t);
            f32s_mut(&mut d)
                .par_chunks_mut(h * w)
                .enumerate()
                .for_each(|(plane, p)| {
                    let s = a[plane];
                    if residual {
                        p.iter_mut().for_each(|v| *v += *v * s);
                    } else {
                        p.iter_mut().for_each(|v| *v *= s);
                    }
                });
            debug_assert_eq!(a.len(), n * c);
            tensor(d)
        }
        Err(x) if residual => x.clone().add(x.mul(a)),
        Err(x) => x.mul(a),
    }
}

/// `a + upsample_nearest(b, factor)` (the FPN's top-down sum), written into `a`.
pub fn add_upsampled(a: Tensor<4>, b: Tensor<4>, factor: usize) -> Tensor<4> {
    let [n, c, h, w] = a.dims();
    let [nb, cb, hb, wb] = b.dims();
    if hb * factor != h || wb * factor != w || nb != n || cb != c {
        return a.add(upsample_nearest(b, factor));
    }
    let bt = match flex(b) {
        Ok(t) => t,
        Err(b) => return a.add(upsample_nearest(b, factor)),
    };
    match flex(a) {
        Ok(t) => {
            let bd = data(bt);
            let bs = f32s(&bd);
            let mut d = data(t);
            f32s_mut(&mut d)
                .par_chunks_mut(h * w)
                .enumerate()
                .for_each(|(plane, p)| {
                    let src = &bs[plane * hb * wb..(plane + 1) * hb * wb];
                    for (i, row) in p.chunks_exact_mut(w).enumerate() {
                        let srow = &src[(i / factor) * wb..(i / factor + 1) * wb];
                        for (run, s) in row.chunks_exact_mut(factor).zip(srow) {
                            run.iter_mut().for_each(|v| *v += *s);
                        }
                    }
                });
            tensor(d)
        }
        Err(a) => a.add(upsample_nearest(tensor(data(bt)), factor)),
    }
}

/// `Tensor::cat([upsample_nearest(x, f) for (x, f) in parts], 1)`: the RSE-FPN's output, every
/// level brought to the first full-size level's resolution, in one pass without the upsampled
/// intermediates.
pub fn cat_upsampled(parts: Vec<(Tensor<4>, usize)>) -> Tensor<4> {
    let dims: Vec<[usize; 4]> = parts.iter().map(|(x, _)| x.dims()).collect();
    let [n, _, h0, w0] = dims[0];
    let (h, w) = (h0 * parts[0].1, w0 * parts[0].1);
    let consistent = dims
        .iter()
        .zip(&parts)
        .all(|(d, (_, f))| d[0] == n && d[2] * f == h && d[3] * f == w);
    let mut flexes = Vec::with_capacity(parts.len());
    let mut rest = Vec::new();
    for (x, f) in parts {
        if !rest.is_empty() || !consistent {
            rest.push((x, f));
            continue;
        }
        match flex(x) {
            Ok(t) => flexes.push((data(t), f)),
            Err(x) => rest.push((x, f)),
        }
    }
    if !rest.is_empty() {
        // Some part is not on flex: the tensor ops for all of them.
        let mut all: Vec<(Tensor<4>, usize)> =
            flexes.into_iter().map(|(d, f)| (tensor(d), f)).collect();
        all.extend(rest);
        return Tensor::cat(
            all.into_iter()
                .map(|(x, f)| upsample_nearest(x, f))
                .collect(),
            1,
        );
    }
    let ctot: usize = dims.iter().map(|d| d[1]).sum();
    // Output plane index -> (part, plane within the part's batch-major planes).
    let mut src_of = Vec::with_capacity(n * ctot);
    for b in 0..n {
        for (k, d) in dims.iter().enumerate() {
            for c in 0..d[1] {
                src_of.push((k, b * d[1] + c));
            }
        }
    }
    let mut out = vec![0.0f32; n * ctot * h * w];
    out.par_chunks_mut(h * w)
        .zip(src_of.par_iter())
        .for_each(|(p, &(k, sp))| {
            let (d, f) = (&flexes[k].0, flexes[k].1);
            let (hs, ws) = (dims[k][2], dims[k][3]);
            let src = &f32s(d)[sp * hs * ws..(sp + 1) * hs * ws];
            for (i, row) in p.chunks_exact_mut(w).enumerate() {
                let srow = &src[(i / f) * ws..(i / f + 1) * ws];
                if f == 1 {
                    row.copy_from_slice(srow);
                } else {
                    for (run, s) in row.chunks_exact_mut(f).zip(srow) {
                        run.fill(*s);
                    }
                }
            }
        });
    tensor(TensorData::new(out, [n, ctot, h, w]))
}

/// The tensor-op form of [`shifted_sum`] (any backend, autodiff): `y` is the 1×1 convolution
/// of the zero-padded input, `[n, k² · cout, h + 2p, w + 2p]`; the sum of its `k²` shifted
/// `cout`-channel slices, `ky`-major, `[n, cout, h, w]`.
pub fn shifted_slices_sum(y: Tensor<4>, k: usize, cout: usize, [n, h, w]: [usize; 3]) -> Tensor<4> {
    let mut acc: Option<Tensor<4>> = None;
    for ky in 0..k {
        for kx in 0..k {
            let c0 = (ky * k + kx) * cout;
            let s = y
                .clone()
                .slice([0..n, c0..c0 + cout, ky..ky + h, kx..kx + w]);
            acc = Some(match acc {
                None => s,
                Some(a) => a.add(s),
            });
        }
    }
    acc.expect("k >= 1")
}

/// The second half of [`crate::model::layers::conv_same_via_1x1`] on an unpadded input:
/// `y` is the 1×1 convolution with `k² · cout` outputs of the `h × w` input (output channel
/// `(ky · k + kx) · cout + o`); the result is `Σ_{ky,kx} y[(ky·k+kx)·cout + o, i+ky−p, j+kx−p]`
/// over the positions inside the image (the zero padding's terms are zero), in `ky`-major
/// order, then `+ bias[o]`, then `act`. `Err(y)` off flex.
pub fn shifted_sum(
    y: Tensor<4>,
    k: usize,
    cout: usize,
    bias: Option<&[f32]>,
    act: Act,
) -> Result<Tensor<4>, Tensor<4>> {
    let [n, ck, h, w] = y.dims();
    if ck != k * k * cout {
        return Err(y);
    }
    let yd = data(flex(y)?);
    let ys = f32s(&yd);
    let p = (k / 2) as isize;
    let mut out = vec![0.0f32; n * cout * h * w];
    out.par_chunks_mut(h * w)
        .enumerate()
        .for_each(|(plane, o)| {
            let (b, oc) = (plane / cout, plane % cout);
            for ky in 0..k {
                for kx in 0..k {
                    let c = b * ck + (ky * k + kx) * cout + oc;
                    let src = &ys[c * h * w..(c + 1) * h * w];
                    let (dy, dx) = (ky as isize - p, kx as isize - p);
                    let (i0, i1) = (
                        (-dy).max(0) as usize,
                        (h as isize - dy).min(h as isize) as usize,
                    );
                    let (j0, j1) = (
                        (-dx).max(0) as usize,
                        (w as isize - dx).min(w as isize) as usize,
                    );
                    if j0 >= j1 {
                        continue;
                    }
                    for i in i0..i1 {
                        let si = (i as isize + dy) as usize;
                        let sj0 = (j0 as isize + dx) as usize;
                        let orow = &mut o[i * w + j0..i * w + j1];
                        let srow = &src[si * w + sj0..si * w + sj0 + (j1 - j0)];
                        for (a, s) in orow.iter_mut().zip(srow) {
                            *a += *s;
                        }
                    }
                }
            }
            match bias.map(|b| b[oc]) {
                Some(bv) => o.iter_mut().for_each(|v| *v = act.apply(*v + bv)),
                None if act != Act::Identity => o.iter_mut().for_each(|v| *v = act.apply(*v)),
                None => {}
            }
        });
    Ok(tensor(TensorData::new(out, [n, cout, h, w])))
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::Distribution;

    fn rand(shape: [usize; 4], device: &Device) -> Tensor<4> {
        Tensor::<4>::random(shape, Distribution::Normal(0.0, 2.0), device)
    }

    fn bits(x: Tensor<4>) -> Vec<u32> {
        x.into_data()
            .iter::<f32>()
            .map(|v| (v + 0.0).to_bits())
            .collect()
    }

    #[test]
    fn nearest_upsampling_repeats_each_pixel() {
        let device = Device::default();
        let x = Tensor::<4>::from_data(
            TensorData::new(vec![1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0], [1, 1, 2, 3]),
            &device,
        );
        let y: Vec<f32> = upsample_nearest(x, 2).into_data().try_to_vec().unwrap();
        assert_eq!(
            y,
            vec![
                1.0, 1.0, 2.0, 2.0, 3.0, 3.0, 1.0, 1.0, 2.0, 2.0, 3.0, 3.0, 4.0, 4.0, 5.0, 5.0,
                6.0, 6.0, 4.0, 4.0, 5.0, 5.0, 6.0, 6.0
            ]
        );
    }

    #[test]
    fn hard_swish_affine_is_bit_identical_to_the_tensor_ops() {
        let device = Device::default();
        let x = rand([2, 3, 17, 9], &device);
        let want = bits(hard_swish(x.clone()).mul_scalar(0.7f32).add_scalar(-0.2f32));
        // Shared input (the kernel must not write into `x`'s buffer) and unique input.
        let got = bits(hard_swish_affine(x.clone(), 0.7, -0.2));
        assert_eq!(got, want);
        let x_again = bits(x.clone());
        assert_ne!(x_again, want);
        assert_eq!(bits(hard_swish_affine(x, 0.7, -0.2)), want);
    }

    #[test]
    fn sigmoid_matches_and_im2col_gives_the_strided_convolution() {
        let device = Device::default();
        let x = rand([2, 3, 9, 11], &device);
        assert_eq!(
            bits(activate(x.clone(), Act::Sigmoid)),
            bits(burn::tensor::activation::sigmoid(x.clone()))
        );
        for (k, stride, pad) in [(3, 2, 1), (3, 1, 1), (5, 2, 2), (2, 2, 0)] {
            let weight = rand([4, 3, k, k], &device);
            let opts = burn::tensor::ops::ConvOptions::new([stride; 2], [pad; 2], [1, 1], 1);
            let want = burn::tensor::module::conv2d(x.clone(), weight.clone(), None, opts);
            let cols = im2col(x.clone(), k, stride, pad).expect("flex");
            let got = burn::tensor::module::conv2d(
                cols,
                weight.reshape([4, 3 * k * k, 1, 1]),
                None,
                burn::tensor::ops::ConvOptions::new([1, 1], [0, 0], [1, 1], 1),
            );
            assert_eq!(got.dims(), want.dims());
            let d = (got - want).abs().max().into_scalar::<f32>();
            assert!(d < 1e-4, "k {k} stride {stride} pad {pad}: {d}");
        }
    }

    #[test]
    fn transposed_2x2_convolutions_match_burns() {
        let device = Device::default();
        let x = rand([2, 5, 6, 7], &device);
        for (bias, act) in [
            (true, Act::Relu),
            (false, Act::Identity),
            (true, Act::Sigmoid),
        ] {
            // 3 outputs through the GEMM, 1 and 2 (the DB head's last layer) directly.
            for cout in [3, 1, 2] {
                let c = burn::nn::conv::ConvTranspose2dConfig::new([5, cout], [2, 2])
                    .with_stride([2, 2])
                    .with_bias(bias)
                    .init(&device);
                let want = act.tensor(c.forward(x.clone()));
                let got = conv_transpose(&c, x.clone(), act);
                assert_eq!(got.dims(), want.dims());
                let d = (got - want).abs().max().into_scalar::<f32>();
                assert!(d < 1e-5, "cout {cout} bias {bias} {act:?}: {d}");
            }
        }
        // Other shapes take Burn's path.
        let c = burn::nn::conv::ConvTranspose2dConfig::new([5, 3], [3, 3])
            .with_stride([2, 2])
            .init(&device);
        let y = conv_transpose(&c, x.clone(), Act::Identity);
        assert_eq!(y.dims(), c.forward(x).dims());
    }

    #[test]
    fn relu_and_channel_scaling_match() {
        let device = Device::default();
        let x = rand([2, 3, 5, 4], &device);
        assert_eq!(
            bits(activate(x.clone(), Act::Relu)),
            bits(burn::tensor::activation::relu(x.clone()))
        );
        let a = rand([2, 3, 1, 1], &device);
        for residual in [false, true] {
            let want = if residual {
                x.clone().add(x.clone().mul(a.clone()))
            } else {
                x.clone().mul(a.clone())
            };
            assert_eq!(
                bits(scale_channels(x.clone(), a.clone(), residual)),
                bits(want)
            );
        }
    }

    #[test]
    fn upsampled_sums_and_concatenations_match() {
        let device = Device::default();
        let a = rand([2, 3, 8, 12], &device);
        let b = rand([2, 3, 4, 6], &device);
        let want = bits(a.clone().add(upsample_nearest(b.clone(), 2)));
        assert_eq!(bits(add_upsampled(a, b, 2)), want);

        let parts = vec![
            (rand([2, 2, 1, 2], &device), 8),
            (rand([2, 3, 2, 4], &device), 4),
            (rand([2, 1, 8, 16], &device), 1),
        ];
        let want = bits(Tensor::cat(
            parts
                .iter()
                .map(|(x, f)| upsample_nearest(x.clone(), *f))
                .collect(),
            1,
        ));
        assert_eq!(bits(cat_upsampled(parts)), want);
    }

    #[test]
    fn shifted_sum_equals_the_padded_slices_sum() {
        let device = Device::default();
        for (k, cout, act) in [(3, 2, Act::Identity), (5, 3, Act::Relu), (3, 1, Act::Relu)] {
            let (n, h, w) = (2, 7, 6);
            let y = rand([n, k * k * cout, h, w], &device);
            let bias: Vec<f32> = (0..cout).map(|i| i as f32 * 0.3 - 0.2).collect();
            let p = k / 2;
            let yp = y
                .clone()
                .pad((p, p, p, p), burn::tensor::ops::PadMode::Constant(0.0));
            let acc = shifted_slices_sum(yp, k, cout, [n, h, w]);
            let b = Tensor::<1>::from_data(TensorData::new(bias.clone(), [cout]), &device);
            let want = act.tensor(acc.add(b.reshape([1, cout, 1, 1])));
            let got = shifted_sum(y, k, cout, Some(&bias), act).expect("flex");
            assert_eq!(bits(got), bits(want), "k {k} cout {cout}");
        }
    }
}
