//! `cadenza export` without a template: a model of any size becomes a `.mag`, and the
//! official bundles' shapes run end to end (generate, likelihood, train --init).
//! (Magenta itself loading these bundles is checked by tools/magenta_export_check.py; the
//! metagraph's node-for-node equality with Magenta's is tested in cadenza-mag.)

mod common;
use common::*;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use cadenza_model::{ModelConfig, Weights};
use cadenza_performance::Config;

fn asap() -> PathBuf {
    let p = cadenza_shared::require("data/asap/Bach/Fugue/bwv_846");
    assert!(p.is_dir(), "ASAP data missing at {}", p.display());
    p
}

fn run(args: &[&str]) -> Output {
    let o = Command::new(env!("CARGO_BIN_EXE_cadenza")).args(args).output().unwrap();
    assert!(o.status.success(), "cadenza {}: {}", args.join(" "), String::from_utf8_lossy(&o.stderr));
    o
}

/// A small dataset of one ASAP piece folder, in `config`'s encoding.
fn dataset(dir: &Path, config: &str) -> PathBuf {
    let ds = dir.join(format!("ds_{config}"));
    run(&[
        "dataset",
        s(&asap()),
        "--out",
        s(&ds),
        "--config",
        config,
        "--transpose",
        "0",
        "--stretch",
        "1",
        "--group-by",
        "file",
        "--max-events",
        "128",
    ]);
    ds
}

fn json(o: &Output) -> serde_json::Value {
    serde_json::from_slice(&o.stdout).unwrap()
}

#[test]
fn a_128x128_model_trained_from_scratch_exports_and_loads_back_bit_identically() {
    let tmp = tempfile::tempdir().unwrap();
    let ds = dataset(tmp.path(), "performance_with_dynamics");
    let rd = tmp.path().join("run");
    run(&[
        "train",
        "--dataset",
        s(&ds),
        "--run-dir",
        s(&rd),
        "--layers",
        "128,128",
        "--steps",
        "3",
        "--batch-size",
        "4",
        "--eval-examples",
        "4",
    ]);
    let model = rd.join("best");
    let mag = tmp.path().join("m128.mag");
    let o = Command::new(env!("CARGO_BIN_EXE_cadenza"))
        .args(["export", s(&model), "--out", s(&mag), "--description", "from scratch"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let back = tmp.path().join("back");
    run(&["import", s(&mag), "--out", s(&back)]);
    assert_eq!(
        std::fs::read(model.join("weights.ckpt")).unwrap(),
        std::fs::read(back.join("weights.ckpt")).unwrap(),
        "the exported bundle's checkpoint differs from the model's"
    );
    let (a, b) = (Weights::load(&model).unwrap(), Weights::load(&mag).unwrap());
    assert_eq!(a.kernels, b.kernels);
    assert_eq!(a.biases, b.biases);
    assert_eq!((a.fc_w, a.fc_b), (b.fc_w, b.fc_b));
    let bundle = cadenza_mag::Bundle::read(&mag).unwrap();
    assert_eq!(bundle.generator_id(), "performance_with_dynamics");
    assert_eq!(bundle.bundle_description(), "from scratch");
    // Same scores from the folder and from the bundle.
    let file = asap().join("Shi05M.mid");
    let l1 = json(&run(&["likelihood", "--model", s(&model), s(&file)]));
    let l2 = json(&run(&["likelihood", "--model", s(&mag), s(&file)]));
    assert_eq!(l1, l2);
}

#[test]
fn official_bundle_shapes_run_end_to_end() {
    let tmp = tempfile::tempdir().unwrap();
    for (config, input, classes) in [
        (Config::Performance, 356, 356),
        (Config::PerformanceWithDynamicsAndModuloEncoding, 16, 388),
        (Config::MulticonditionedPerformanceWithDynamics, 408, 388),
    ] {
        let key = config.key();
        // The official bundles are 3×512.
        let w = Weights::init(ModelConfig::new(config, vec![512, 512, 512]), 7);
        let mag = tmp.path().join(format!("{key}.mag"));
        w.export_bundle_new("official shape").unwrap().write_atomic(&mag).unwrap();
        let bundle = cadenza_mag::Bundle::read(&mag).unwrap();
        assert_eq!(bundle.generator_id(), key);
        let (_, layout) = bundle.load().unwrap();
        assert_eq!((layout.input_size, layout.num_classes, layout.hidden.clone()), (input, classes, vec![512; 3]));

        let out = tmp.path().join(format!("gen_{key}"));
        let mut args = vec!["generate", "--model", s(&mag), "--out", s(&out), "--num-steps", "200", "--quiet"];
        if config.is_conditioned() {
            args.extend(["--notes-per-second", "3", "--pitch-class-histogram", "[2,0,1,0,1,1,0,2,0,1,0,1]"]);
        }
        run(&args);
        let mids: Vec<_> = std::fs::read_dir(&out)
            .unwrap()
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "mid"))
            .collect();
        assert_eq!(mids.len(), 1, "{key}: {mids:?}");

        let l = json(&run(&["likelihood", "--model", s(&mag), s(&asap().join("Shi05M.mid"))]));
        assert_eq!(l["config"], key);
        let mean = l["mean_log_likelihood"].as_f64().unwrap();
        // An untrained model is about uniform over its classes.
        assert!((mean + (classes as f64).ln()).abs() < 1.0, "{key}: {l}");

        let ds = dataset(tmp.path(), key);
        let rd = tmp.path().join(format!("run_{key}"));
        run(&[
            "train",
            "--dataset",
            s(&ds),
            "--run-dir",
            s(&rd),
            "--init",
            s(&mag),
            "--steps",
            "1",
            "--batch-size",
            "2",
            "--eval-examples",
            "2",
        ]);
        let tuned = Weights::load(&rd.join("best")).unwrap();
        assert_eq!(tuned.config, w.config);
        assert_ne!(tuned.kernels[0], w.kernels[0], "{key}: one step changed nothing");
    }
}

/// Every shipped base `.mag` (`models/NAME.mag`) is its model folder's (`models/NAME/`)
/// checkpoint, byte for byte, with the graph built for its shape: the two cannot drift apart.
#[test]
fn the_shipped_base_bundles_are_the_base_models() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let mut bundles: Vec<PathBuf> = std::fs::read_dir(root.join("models"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "mag"))
        .collect();
    bundles.sort();
    assert!(bundles.iter().any(|p| p.ends_with("perf_dyn_3x256_asap.mag")), "{bundles:?}");
    for path in &bundles {
        let dir = path.with_extension("");
        let bundle = cadenza_mag::Bundle::read(path).unwrap();
        let ckpt = std::fs::read(dir.join("weights.ckpt")).unwrap();
        assert_eq!(bundle.checkpoint_bytes(), ckpt.as_slice(), "{}", path.display());
        // The graph `cadenza export` builds for the folder's config and sizes, without a template.
        let fresh = Weights::load(&dir).unwrap().export_bundle_new(bundle.bundle_description()).unwrap();
        assert_eq!(bundle.metagraph_bytes(), fresh.metagraph_bytes(), "{}", path.display());
        assert!(bundle.bundle_description().contains("CC BY-NC-SA 4.0"), "{}", path.display());
        assert!(dir.join("MODEL_CARD.md").is_file(), "{} has no model card", dir.display());
    }
}
