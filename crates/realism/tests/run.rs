//! The realism loop on real data: a run interrupted and resumed ends bit for bit where an
//! uninterrupted one does, and its folder holds what `train`'s does (checkpoints, `best/`, the
//! curves, `stop.json`).

use cadenza_dataset::BuildOptions;
use cadenza_realism::{train_realism, CriticConfig, RealismHParams, RealismOptions};
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn options(ds: &Path, run: &Path, steps: u64, resume: bool) -> RealismOptions {
    RealismOptions {
        dataset: ds.to_path_buf(),
        init: root().join("models/perf_dyn_3x256_asap_v2"),
        run_dir: run.to_path_buf(),
        steps,
        eval_every: 2,
        checkpoint_every: 1,
        keep_last: 2,
        eval_examples: Some(4),
        seed: 3,
        resume,
        hparams: RealismHParams {
            critic: CriticConfig { window: 64, warmup: 8, ..Default::default() },
            samples: 4,
            sample_steps: 800,
            critic_pretrain_steps: 10,
            critic_refit_steps: 4,
            refit_every: 2,
            min_critic_accuracy: 0.0,
            max_nll_cost: 1.0,
            ..Default::default()
        },
        cancel: Default::default(),
    }
}

#[test]
fn an_interrupted_run_resumes_bit_for_bit() {
    let tmp = tempfile::tempdir().unwrap();
    let ds = tmp.path().join("ds");
    let b =
        BuildOptions { transpositions: vec![0], stretches: vec![1.0], eval_ratio: 0.2, seed: 1, ..Default::default() };
    cadenza_dataset::build(&[cadenza_shared::require("data/asap/Bach/Fugue")], &ds, &b).unwrap();
    let (whole, parts) = (tmp.path().join("whole"), tmp.path().join("parts"));
    let t = std::time::Instant::now();
    let a = train_realism(&options(&ds, &whole, 4, false), &mut |_| {}).unwrap();
    eprintln!("4 realism steps in {:.1} s", t.elapsed().as_secs_f64());
    assert_eq!(a.step, 4);
    train_realism(&options(&ds, &parts, 2, false), &mut |_| {}).unwrap();
    let mut resumed_at = None;
    let c = train_realism(&options(&ds, &parts, 4, true), &mut |e| {
        if let cadenza_realism::RealismEvent::Resumed { step } = e {
            resumed_at = Some(step);
        }
    })
    .unwrap();
    assert_eq!(resumed_at, Some(2));
    // Everything but the wall-clock seconds.
    let untimed = |r: Option<cadenza_realism::StepRow>| {
        r.map(|r| cadenza_realism::StepRow { seconds_sampling: 0.0, seconds_critic: 0.0, seconds_policy: 0.0, ..r })
    };
    assert_eq!(untimed(c.last), untimed(a.last.clone()), "the last step's numbers differ after a resume");
    let (x, y) = (whole.join("checkpoints/ckpt-00000004"), parts.join("checkpoints/ckpt-00000004"));
    for f in ["weights.ckpt", "replay.json"] {
        assert!(std::fs::read(x.join(f)).unwrap() == std::fs::read(y.join(f)).unwrap(), "{f} differs after a resume");
    }
    // The critics hold the same values (their files differ in burn's parameter ids).
    let critic = |dir: &Path| {
        let cc = options(&ds, dir, 4, true).hparams.critic;
        let c = cadenza_realism::Critic::new(388, &cc, 0, &burn::tensor::Device::flex().autodiff());
        let c = burn::module::Module::try_load_file(c, dir.join("critic.bpk")).unwrap();
        let v = |t: burn::tensor::Tensor<2>| t.into_data().convert::<f32>().try_into_vec::<f32>().unwrap();
        (v(c.embed.val()), v(c.recurrent.val()), v(c.head_w.val()))
    };
    assert!(critic(&x) == critic(&y), "the critic differs after a resume");
    // The run folder: kept checkpoints, best/, the log and the curves, stop.json.
    assert!(!whole.join("checkpoints/ckpt-00000001").exists(), "keep_last 2 keeps the last two and the best");
    assert!(whole.join("best/weights.ckpt").is_file());
    let csv = std::fs::read_to_string(whole.join("realism.csv")).unwrap();
    assert_eq!(csv.lines().count(), 5, "{csv}");
    assert!(std::fs::read_to_string(whole.join("curves.svg")).unwrap().contains("<polyline"));
    assert!(whole.join("stop.json").is_file());
    // A damaged newest checkpoint is passed over, named; the run resumes from the one before
    // and ends where the undamaged run did.
    let module = parts.join("checkpoints/ckpt-00000004/module.bpk");
    let mut bytes = std::fs::read(&module).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0x10;
    std::fs::write(&module, &bytes).unwrap();
    let mut events = Vec::new();
    let again = train_realism(&options(&ds, &parts, 4, true), &mut |e| match e {
        cadenza_realism::RealismEvent::DamagedCheckpoint(why) => events.push(why),
        cadenza_realism::RealismEvent::Resumed { step } => events.push(format!("resumed at {step}")),
        _ => {}
    })
    .unwrap();
    assert_eq!(events.len(), 2, "{events:?}");
    assert!(events[0].contains("ckpt-00000004/module.bpk") && events[0].contains("CRC32C"), "{events:?}");
    assert_eq!(events[1], "resumed at 3");
    assert_eq!(untimed(again.last), untimed(a.last), "resumed past a damaged checkpoint, the numbers differ");
    // A second fresh run into the same folder is refused.
    let e = train_realism(&options(&ds, &whole, 4, false), &mut |_| {}).unwrap_err();
    assert!(e.to_string().contains("already"), "{e}");
}
