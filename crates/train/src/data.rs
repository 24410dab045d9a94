//! Batches from the example store: reading examples, the shuffled pass over the training
//! split (resumable at any position), and values read back from tensors.

use burn::tensor::Tensor;
use cadenza_dataset::ExampleStore;
use cadenza_performance::EncodedExample;
use rand::seq::SliceRandom;
use rand::SeedableRng;

pub(crate) fn scalar(t: Tensor<1>) -> f64 {
    t.into_data().convert::<f32>().try_into_vec::<f32>().map(|v| v[0] as f64).unwrap_or(f64::NAN)
}

pub(crate) fn floats<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    t.into_data().convert::<f32>().try_into_vec::<f32>().unwrap_or_default()
}

pub(crate) fn examples(store: &ExampleStore, ids: &[usize]) -> Vec<EncodedExample> {
    ids.iter()
        .map(|&i| EncodedExample { tokens: store.tokens(i), disable_conditioning: store.meta(i).disable_conditioning })
        .collect()
}

/// Where a run is in its shuffled pass over the training split.
pub(crate) struct Cursor {
    perm: Vec<usize>,
    pub epoch: u64,
    pub position: usize,
}

impl Cursor {
    pub fn new(n: usize, seed: u64, epoch: u64, position: usize) -> Self {
        Cursor { perm: permutation(n, seed, epoch), epoch, position }
    }

    /// The next batch's example ids; a new epoch (and permutation) starts when the current
    /// one cannot fill a batch.
    pub fn next(&mut self, batch_size: usize, seed: u64) -> Vec<usize> {
        let n = self.perm.len();
        if self.position + batch_size > n && self.position > 0 {
            self.epoch += 1;
            self.position = 0;
            self.perm = permutation(n, seed, self.epoch);
        }
        let ids = self.perm[self.position..(self.position + batch_size).min(n)].to_vec();
        self.position += ids.len();
        ids
    }
}

fn permutation(n: usize, seed: u64, epoch: u64) -> Vec<usize> {
    let mut p: Vec<usize> = (0..n).collect();
    p.shuffle(&mut rand_chacha::ChaCha8Rng::seed_from_u64(seed ^ epoch.wrapping_mul(0x9E37_79B9_7F4A_7C15)));
    p
}
