//! Magenta's Performance RNN data pipeline (`performance_pipeline.get_pipeline`), stage for
//! stage: sustain → stretch → split every 30 s → quantise at 100 steps/s → transpose →
//! extract (truncate to 512 events, drop under 32) → encode.

use crate::{Config, EncodedExample, NotePerformance, Performance};
use cadenza_notes::transform::{apply_sustain, quantize_absolute, split, stretch, transpose};
use cadenza_notes::{Mode, NoteSequence};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PipelineOptions {
    pub config: Config,
    pub min_events: usize,
    pub max_events: usize,
    pub split_seconds: f64,
    /// Magenta discards a sequence whose notes use more than one program; Cadenza's default
    /// plays every part on one instrument instead, so chamber scores are not lost.
    pub magenta_compat: bool,
}

impl Default for PipelineOptions {
    fn default() -> Self {
        PipelineOptions {
            config: Config::PerformanceWithDynamics,
            min_events: 32,
            max_events: 512,
            split_seconds: 30.0,
            magenta_compat: false,
        }
    }
}

/// One training example and where it came from.
#[derive(Debug, Clone, PartialEq)]
pub struct Example {
    pub encoded: EncodedExample,
    pub transpose: i8,
    pub stretch: f32,
    pub segment: u32,
    /// Tonic + 12·minor of the key in force at the segment start (after transposition), or
    /// `None` when the source declared none.
    pub key: Option<u8>,
    /// Tempo in quarters per minute at the segment start, when known.
    pub qpm: Option<f32>,
}

/// Why a sequence produced no examples (Magenta's pipeline statistics, kept per file).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct PipelineStats {
    pub segments: usize,
    pub discarded_too_short: usize,
    pub truncated: usize,
    pub skipped_transpositions: usize,
    pub discarded_more_than_one_program: usize,
    pub discarded_note_limits: usize,
    pub quantize_errors: usize,
}

/// What `performance_sequence_generator` does with a primer: the whole file quantised, no
/// sustain, no split, no truncation.
pub fn primer_performance(seq: &NoteSequence, config: Config) -> Result<Performance, cadenza_notes::TransformError> {
    let q = quantize_absolute(seq, 100)?;
    Ok(Performance::from_quantized(&q, 0, config.num_velocity_bins(), None))
}

/// Examples for one (already loaded) sequence. `transpositions` and `stretches` are the
/// augmentation; `[0]` and `[1.0]` give Magenta's eval branch.
pub fn examples(
    seq: &NoteSequence,
    opts: &PipelineOptions,
    transpositions: &[i32],
    stretches: &[f64],
    stats: &mut PipelineStats,
) -> Vec<Example> {
    let mut out = Vec::new();
    let mut seq = seq.clone();
    if !opts.magenta_compat && seq.programs().len() > 1 {
        for n in &mut seq.notes {
            n.program = 0;
        }
    }
    let sustained = apply_sustain(&seq);
    for &factor in stretches {
        let stretched = stretch(&sustained, factor);
        for (seg_idx, segment) in split(&stretched, opts.split_seconds).iter().enumerate() {
            stats.segments += 1;
            let seg_start = seg_idx as f64 * opts.split_seconds;
            let key = stretched.key_at(seg_start);
            let qpm = tempo_at(&stretched, seg_start);
            let Ok(q) = quantize_absolute(segment, 100) else {
                stats.quantize_errors += 1;
                continue;
            };
            for &t in transpositions {
                // Transposing a quantised sequence and quantising a transposed one agree;
                // transposing the notes first keeps one code path.
                let Some(tq) = q.transposed(t) else {
                    stats.skipped_transpositions += 1;
                    continue;
                };
                if let Some(tokens) = extract(&tq, opts, stats) {
                    let key = key.map(|k| {
                        let tonic = ((k.key as i32 + t).rem_euclid(12)) as u8;
                        tonic + if k.mode == Mode::Minor { 12 } else { 0 }
                    });
                    let flags: &[bool] = if opts.config.optional_conditioning() { &[false, true] } else { &[false] };
                    for &disable in flags {
                        out.push(Example {
                            encoded: EncodedExample { tokens: tokens.clone(), disable_conditioning: disable },
                            transpose: t as i8,
                            stretch: factor as f32,
                            segment: seg_idx as u32,
                            key,
                            qpm,
                        });
                    }
                }
            }
        }
    }
    out
}

fn tempo_at(seq: &NoteSequence, time: f64) -> Option<f32> {
    seq.tempos.iter().rfind(|t| t.time <= time).or(seq.tempos.first()).map(|t| t.qpm as f32)
}

fn extract(
    q: &cadenza_notes::QuantizedSequence,
    opts: &PipelineOptions,
    stats: &mut PipelineStats,
) -> Option<Vec<u16>> {
    let mut programs: Vec<u32> = q.notes.iter().map(|n| n.program).collect();
    programs.sort_unstable();
    programs.dedup();
    if programs.len() > 1 {
        stats.discarded_more_than_one_program += 1;
        return None;
    }
    let config = opts.config;
    if config.is_note_encoding() {
        let Ok(mut p) = NotePerformance::from_quantized(q, 0, config.num_velocity_bins()) else {
            stats.discarded_note_limits += 1;
            return None;
        };
        if p.events.len() > opts.max_events {
            p.events.truncate(opts.max_events);
            stats.truncated += 1;
        }
        if p.events.len() < opts.min_events {
            stats.discarded_too_short += 1;
            return None;
        }
        return Some(Config::note_tokens(&p));
    }
    let mut p = Performance::from_quantized(q, 0, config.num_velocity_bins(), None);
    if p.len() > opts.max_events {
        p.truncate(opts.max_events);
        stats.truncated += 1;
    }
    if p.len() < opts.min_events {
        stats.discarded_too_short += 1;
        return None;
    }
    config.tokens(&p)
}

/// The untransposed sequence used for a piece's examples at `amount` semitones, or `None`
/// when some note would leave the piano range.
pub fn transposed(seq: &NoteSequence, amount: i32) -> Option<NoteSequence> {
    transpose(seq, amount)
}
