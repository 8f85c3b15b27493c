//! Parameter-value utilities over whole modules: copy values between two modules of one
//! architecture (keeping the destination's parameter ids), and the exponential moving average
//! of training (SPEC §6.1, MindOCR `EMA`).

use burn::module::{Module, ModuleMapper, ModuleVisitor, Param};
use burn::prelude::*;

/// Collects every float parameter (running statistics included), flattened, in visit order.
struct Collect(Vec<Tensor<1>>);

impl ModuleVisitor for Collect {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        let t = param.val();
        let n = t.shape().num_elements();
        self.0.push(t.reshape([n]));
    }
}

/// Replaces each float parameter's value by `f(old, source)` in visit order.
struct Replace<F: FnMut(Tensor<1>, Tensor<1>) -> Tensor<1>> {
    source: std::vec::IntoIter<Tensor<1>>,
    f: F,
}

impl<F: FnMut(Tensor<1>, Tensor<1>) -> Tensor<1>> ModuleMapper for Replace<F> {
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        let src = self
            .source
            .next()
            .expect("modules of one architecture have the same parameters");
        let f = &mut self.f;
        param.map(|old| {
            let dims = old.dims();
            let device = old.device();
            let grad = old.is_require_grad();
            let n = old.shape().num_elements();
            let new = f(old.reshape([n]), src.to_device(&device)).reshape(dims);
            // A new leaf: sharing the source's autodiff node would tie the two parameters.
            Tensor::from_data(new.into_data(), &device).set_require_grad(grad)
        })
    }
}

fn values<M: Module>(m: &M) -> Vec<Tensor<1>> {
    let mut c = Collect(Vec::new());
    m.visit(&mut c);
    c.0
}

/// `into` with the parameter values of `from` (same architecture), keeping `into`'s ids.
pub fn copy_values<M: Module>(from: &M, into: M) -> M {
    into.map(&mut Replace {
        source: values(from).into_iter(),
        f: |_, src| src,
    })
}

/// One EMA update: `ema ← decay · ema + (1 - decay) · model`.
pub fn ema_update<M: Module>(ema: M, model: &M, decay: f64) -> M {
    ema.map(&mut Replace {
        source: values(model).into_iter(),
        f: |old, src| old.mul_scalar(decay).add(src.mul_scalar(1.0 - decay)),
    })
}

/// MindOCR's EMA decay at update `t` (1-based): `decay · (1 - exp(-t / ramp))`.
pub fn ema_decay(decay: f64, ramp: f64, t: usize) -> f64 {
    decay * (1.0 - (-(t as f64) / ramp).exp())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::head::DbBranchConfig;

    fn first(m: &impl Module) -> Vec<f32> {
        values(m)[0].clone().into_data().try_to_vec().unwrap()
    }

    #[test]
    fn copy_keeps_ids_and_takes_values() {
        let device = Device::default();
        let a = DbBranchConfig::new(16).init(&device);
        let b = DbBranchConfig::new(16).init(&device);
        let b_id = b.conv1.weight.id;
        let c = copy_values(&a, b);
        assert_eq!(c.conv1.weight.id, b_id);
        assert_ne!(c.conv1.weight.id, a.conv1.weight.id);
        assert_eq!(first(&c), first(&a));
    }

    #[test]
    fn a_copied_module_trains_independently() {
        use burn::optim::GradientsParams;
        let device = Device::default().autodiff();
        let a = DbBranchConfig::new(16).init(&device);
        let b = copy_values(&a, DbBranchConfig::new(16).init(&device));
        let x = Tensor::<4>::ones([1, 16, 4, 4], &device);
        let loss = a
            .forward(x.clone())
            .sum()
            .add(b.forward(x).sum().mul_scalar(2.0));
        let grads = GradientsParams::from_grads(loss.backward(), &b);
        let g: Tensor<4> = grads
            .get(b.conv1.weight.id)
            .expect("b has its own gradient");
        assert!(g.abs().sum().into_scalar::<f32>() > 0.0);
    }

    #[test]
    fn ema_moves_towards_the_model() {
        let device = Device::default();
        let a = DbBranchConfig::new(16).init(&device);
        let b = DbBranchConfig::new(16).init(&device);
        let (va, vb) = (first(&a), first(&b));
        let e = ema_update(b, &a, 0.75);
        for ((e, a), b) in first(&e).iter().zip(&va).zip(&vb) {
            assert!((e - (0.75 * b + 0.25 * a)).abs() < 1e-6);
        }
        assert!((ema_decay(0.9999, 2000.0, 2000) - 0.9999 * (1.0 - (-1f64).exp())).abs() < 1e-12);
    }
}
