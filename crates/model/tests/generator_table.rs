//! The `.mag` reader's table of Magenta generator ids (`cadenza_mag::layout`) and the nine
//! configs of `cadenza_performance` state the same shapes twice, in two crates that must not
//! depend on each other; this test is where the two meet, so they cannot drift apart.

use cadenza_mag::layout::{KNOWN_GENERATORS, KNOWN_GENERATOR_IDS};
use cadenza_performance::Config;

#[test]
fn generator_table_and_configs_agree() {
    for c in Config::ALL {
        let g = KNOWN_GENERATORS
            .iter()
            .find(|g| g.id == c.generator_id())
            .unwrap_or_else(|| panic!("{}: id {} not in the .mag table", c.key(), c.generator_id()));
        assert_eq!(g.num_classes, c.num_logits(), "{}: logits", c.key());
        assert_eq!(g.input_size, c.control_size() + c.event_feature_size(), "{}: LSTM input rows", c.key());
    }
    for g in &KNOWN_GENERATORS {
        assert!(
            Config::ALL.iter().any(|c| c.generator_id() == g.id),
            "{}: in the .mag table but no config has it",
            g.id
        );
    }
    let ids: Vec<&str> = KNOWN_GENERATORS.iter().map(|g| g.id).collect();
    assert_eq!(ids, KNOWN_GENERATOR_IDS.to_vec(), "the id list and the shape table disagree");
}
