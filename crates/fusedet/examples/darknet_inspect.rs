//! Prints what `fusedet::import::darknet` reads from a Darknet `.cfg` (and `.weights`), for the
//! check against the Darknet binary in `tools/check_darknet_import.py`.
//!
//! Usage: `darknet_inspect CFG [WEIGHTS]`. One line per layer: `index kind c h w` (the output
//! shape); then `weights N` (floats the cfg needs) and, with a weights file,
//! `version MAJOR MINOR REVISION seen SEEN` and per convolution
//! `conv INDEX first_weight last_weight sum_of_weights`. Last, the network is built as Burn
//! modules (`fusedet::model::darknet::DarknetNet`) and run on a zero image of the cfg's size:
//! `forward c h w` per output (each `[yolo]` input, or a classifier's last layer) and
//! `params N` (conv, bias and batch-norm values in the module, = the weights count).
use burn::module::Module;
use fusedet::burn;
use fusedet::burn::prelude::*;
use fusedet::import::darknet::{DarknetCfg, DarknetWeights, LayerKind};
use fusedet::model::darknet::DarknetNet;

fn main() -> anyhow::Result<()> {
    let a: Vec<String> = std::env::args().collect();
    anyhow::ensure!(
        a.len() == 2 || a.len() == 3,
        "usage: darknet_inspect CFG [WEIGHTS]"
    );
    let cfg = DarknetCfg::read(a[1].as_ref())?;
    for (i, l) in cfg.layers.iter().enumerate() {
        let kind = match &l.kind {
            LayerKind::Convolutional(_) => "conv",
            LayerKind::Shortcut { .. } => "res",
            LayerKind::Route { .. } => "route",
            LayerKind::Upsample { .. } => "upsample",
            LayerKind::Maxpool { .. } => "max",
            LayerKind::Avgpool => "avg",
            LayerKind::Softmax { .. } => "softmax",
            LayerKind::Yolo(_) => "yolo",
            _ => "other",
        };
        let [c, h, w] = l.output;
        println!("{i} {kind} {c} {h} {w}");
    }
    println!("weights {}", cfg.weight_count());
    if let Some(path) = a.get(2) {
        let w = DarknetWeights::read(path.as_ref(), &cfg)?;
        let [ma, mi, re] = w.version;
        println!("version {ma} {mi} {re} seen {}", w.seen);
        for (i, c) in w.layers.iter().enumerate() {
            if let Some(c) = c {
                let s: f64 = c.weight.iter().map(|&x| x as f64).sum();
                println!(
                    "conv {i} {} {} {s}",
                    c.weight[0],
                    c.weight[c.weight.len() - 1]
                );
            }
        }
    }
    let device = Device::default();
    let net = DarknetNet::new(&cfg, &device);
    let [c, h, w] = cfg.input;
    for out in net.forward(Tensor::zeros([1, c, h, w], &device)) {
        let [_, c, h, w] = out.raw.dims();
        println!("forward {c} {h} {w}");
    }
    // Burn counts the batch norms' running statistics among the parameters, as the weights
    // file does.
    println!("params {}", net.num_params());
    Ok(())
}
