//! Split by piece wherever the input comes from: an ASAP subfolder still finds ASAP's
//! `metadata.csv` above it, a copy without metadata groups a score with its performances by
//! folder, and `--group-by file` is there for those who want it (and says so).

use cadenza_dataset::split::{piece_ids, GroupBy};
use cadenza_dataset::{build, collect_files, BuildOptions};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

fn asap() -> PathBuf {
    let p = cadenza_shared::require("data/asap");
    assert!(p.join("metadata.csv").is_file(), "../shared/data/asap missing ({})", p.display());
    p
}

fn pieces(inputs: &[PathBuf], g: GroupBy) -> (BTreeMap<PathBuf, String>, String) {
    let files = collect_files(inputs).unwrap();
    let (ids, grouping) = piece_ids(inputs, &files, g).unwrap();
    (ids, grouping.method)
}

/// Every file of one ASAP folder has one piece id, and different folders different ones.
fn assert_by_folder(ids: &BTreeMap<PathBuf, String>) {
    let mut by_dir: BTreeMap<&Path, &String> = BTreeMap::new();
    for (f, id) in ids {
        let dir = f.parent().unwrap();
        assert_eq!(*by_dir.entry(dir).or_insert(id), id, "{} split from its folder", f.display());
    }
    let distinct: std::collections::BTreeSet<&&String> = by_dir.values().collect();
    assert_eq!(distinct.len(), by_dir.len(), "two folders share a piece id");
}

#[test]
fn an_asap_subfolder_finds_the_metadata_above_it() {
    let fugues = asap().join("Bach/Fugue");
    let (ids, method) = pieces(std::slice::from_ref(&fugues), GroupBy::Auto);
    assert_eq!(method, "metadata");
    assert!(ids.len() > 100, "{} files", ids.len());
    assert_by_folder(&ids);
    assert_eq!(
        ids.values().collect::<std::collections::BTreeSet<_>>().len(),
        std::fs::read_dir(&fugues).unwrap().count()
    );
    assert!(ids.values().all(|id| id.starts_with("Bach/Fugue/bwv_")), "{:?}", ids.values().next());
    // A single piece folder, or one file, given alone: the same ids as from the root.
    let (one, _) = pieces(&[fugues.join("bwv_846")], GroupBy::Auto);
    assert!(one.values().all(|id| id == "Bach/Fugue/bwv_846"));
    let (all, _) = pieces(&[asap()], GroupBy::Auto);
    for (f, id) in &ids {
        let canon = f.canonicalize().unwrap();
        let same = all.iter().find(|(g, _)| g.canonicalize().unwrap() == canon).unwrap();
        assert_eq!(same.1, id);
    }
}

#[test]
fn without_metadata_a_score_folder_is_a_piece_and_file_grouping_is_explicit() {
    // A copy of three ASAP pieces without metadata.csv, plus a flat folder of two scores.
    let tmp = tempfile::tempdir().unwrap();
    for piece in ["bwv_846", "bwv_848", "bwv_857"] {
        let src = asap().join("Bach/Fugue").join(piece);
        let dst = tmp.path().join("fugues").join(piece);
        std::fs::create_dir_all(&dst).unwrap();
        for e in std::fs::read_dir(&src).unwrap() {
            let p = e.unwrap().path();
            if matches!(p.extension().and_then(|e| e.to_str()), Some("mid" | "mxl")) {
                std::fs::copy(&p, dst.join(p.file_name().unwrap())).unwrap();
            }
        }
    }
    let flat = tmp.path().join("flat");
    std::fs::create_dir_all(&flat).unwrap();
    std::fs::copy(asap().join("Bach/Fugue/bwv_846/xml_score.mxl"), flat.join("a.mxl")).unwrap();
    std::fs::copy(asap().join("Bach/Fugue/bwv_848/xml_score.mxl"), flat.join("b.mxl")).unwrap();

    let inputs = [tmp.path().join("fugues"), flat.clone()];
    let (ids, method) = pieces(&inputs, GroupBy::Auto);
    assert_eq!(method, "score-folder");
    let fugue_ids: BTreeMap<PathBuf, String> =
        ids.iter().filter(|(f, _)| !f.starts_with(&flat)).map(|(f, i)| (f.clone(), i.clone())).collect();
    assert_by_folder(&fugue_ids);
    assert_eq!(fugue_ids.values().collect::<std::collections::BTreeSet<_>>().len(), 3);
    // Two scores in one folder are two pieces.
    assert_ne!(ids[&flat.join("a.mxl")], ids[&flat.join("b.mxl")]);

    let (by_file, m) = pieces(&inputs, GroupBy::File);
    assert_eq!(m, "file");
    assert_eq!(by_file.values().collect::<std::collections::BTreeSet<_>>().len(), by_file.len());
    let (by_folder, m) = pieces(&inputs, GroupBy::Folder);
    assert_eq!(m, "folder");
    assert_eq!(by_folder[&flat.join("a.mxl")], by_folder[&flat.join("b.mxl")]);
    let err = piece_ids(&inputs, &collect_files(&inputs).unwrap(), GroupBy::Metadata).unwrap_err();
    assert!(err.contains("no metadata.csv"), "{err}");
}

/// The build records the grouping in stats.json, leaves out excluded files, and no piece of
/// an ASAP subfolder lands on both sides.
#[test]
fn build_records_the_grouping_and_splits_asap_subfolders_by_piece() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("ds");
    let opts = BuildOptions {
        transpositions: vec![0],
        stretches: vec![1.0],
        exclude: vec!["xml_score.*".into(), "midi_score.mid".into()],
        ..Default::default()
    };
    let stats = build(&[asap().join("Bach/Fugue")], &out, &opts).unwrap();
    let g = stats.grouping.as_ref().unwrap();
    assert_eq!(g.method, "metadata");
    assert!(stats.excluded >= 2 * 24, "{}", stats.excluded);
    let json: serde_json::Value = serde_json::from_slice(&std::fs::read(out.join("stats.json")).unwrap()).unwrap();
    assert_eq!(json["grouping"]["method"], "metadata");
    let split: Vec<serde_json::Value> =
        serde_json::from_slice(&std::fs::read(out.join("split.json")).unwrap()).unwrap();
    assert!(split.iter().all(|f| !f["path"].as_str().unwrap().ends_with("xml_score.mxl")));
    let mut side: BTreeMap<String, String> = BTreeMap::new();
    for f in &split {
        let (p, s) = (f["piece"].as_str().unwrap().to_string(), f["split"].as_str().unwrap().to_string());
        assert!(side.insert(p.clone(), s.clone()).is_none_or(|old| old == s), "{p} is on both sides");
    }
    assert_eq!(stats.train.pieces + stats.eval.pieces, side.len());
    assert!(stats.eval.pieces >= 1 && stats.eval.pieces < stats.train.pieces);
    let bad = BuildOptions { exclude: vec!["[".into()], ..opts };
    assert!(build(&[asap().join("Bach/Fugue")], &tmp.path().join("x"), &bad)
        .unwrap_err()
        .to_string()
        .contains("bad exclude pattern"));
}
