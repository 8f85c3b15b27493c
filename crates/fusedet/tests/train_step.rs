//! A DBNet training step on Burn's autodiff: targets → forward_train → DB loss → backward →
//! SGD (momentum 0.9, weight decay 1e-4). Overfitting one synthetic image for a few steps must
//! lower the loss; the groundwork for `fusedet train`.
use fusedet::burn::optim::decay::WeightDecayConfig;
use fusedet::burn::optim::momentum::MomentumConfig;
use fusedet::burn::optim::{GradientsParams, SgdConfig};
use fusedet::burn::prelude::*;
use fusedet::loss::{DbLossConfig, db_loss};
use fusedet::model::{DbNet, DbNetSpec};
use fusedet::targets::{DbTargetConfig, make_db_targets};

#[test]
fn sgd_steps_on_one_image_lower_the_db_loss() {
    let device = Device::default().autodiff();
    let (w, h) = (64usize, 64usize);
    // A bright "word" on a dark background, and its label.
    let word = vec![[12.0, 24.0], [52.0, 24.0], [52.0, 40.0], [12.0, 40.0]];
    let mut img = vec![-1.0f32; 3 * w * h];
    for c in 0..3 {
        for y in 24..40 {
            for x in 12..52 {
                img[c * w * h + y * w + x] = 1.5;
            }
        }
    }
    let t = make_db_targets(&[word], &[false], w, h, &DbTargetConfig::default());
    let map = |v: Vec<f32>| Tensor::<4>::from_data(TensorData::new(v, [1, 1, h, w]), &device);
    let (gt, mask) = (map(t.binary_map), map(t.mask));
    let (tmap, tmask) = (map(t.thresh_map), map(t.thresh_mask));
    let x = Tensor::<4>::from_data(TensorData::new(img, [1, 3, h, w]), &device);
    let mut model = DbNet::new(&DbNetSpec::default(), true, &device);
    let mut optim = SgdConfig::new()
        .with_momentum(Some(MomentumConfig::new().with_dampening(0.0)))
        .with_weight_decay(Some(WeightDecayConfig::new(1e-4)))
        .init();
    let cfg = DbLossConfig::default();
    let mut losses = Vec::new();
    for _ in 0..6 {
        let out = model.forward_train(x.clone());
        let parts = db_loss(
            out,
            gt.clone(),
            mask.clone(),
            tmap.clone(),
            tmask.clone(),
            &cfg,
        );
        losses.push(parts.total.clone().into_scalar::<f32>());
        let grads = GradientsParams::from_grads(parts.total.backward(), &model);
        model = optim.step(0.007, model, grads);
    }
    eprintln!("DB loss over 6 SGD steps: {losses:?}");
    assert!(losses.iter().all(|l| l.is_finite()), "{losses:?}");
    assert!(losses[5] < losses[0] * 0.9, "loss did not fall: {losses:?}");
}
