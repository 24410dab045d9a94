//! Piano roll: time runs left to right, pitch bottom to top (one band per semitone, black
//! keys shaded, a line under every C), a grid line every second (darker every 10 s), each
//! note a bar coloured by velocity (dark blue soft → green → yellow → red loud).

use crate::{write_atomic, RenderError};
use cadenza_notes::NoteSequence;
use std::path::Path;

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RollOptions {
    pub pixels_per_second: f64,
    pub pixels_per_semitone: u32,
    /// The time axis is squeezed to fit this many pixels.
    pub max_width: u32,
}

impl Default for RollOptions {
    fn default() -> Self {
        RollOptions { pixels_per_second: 50.0, pixels_per_semitone: 6, max_width: 6000 }
    }
}

const BACKGROUND: [u8; 3] = [250, 250, 250];
const BLACK_KEY: [u8; 3] = [236, 236, 240];
const C_LINE: [u8; 3] = [190, 190, 200];
const SECOND_LINE: [u8; 3] = [222, 222, 228];
const TEN_SECOND_LINE: [u8; 3] = [170, 170, 180];

/// Velocity 0..=127 → colour on a five-stop ramp.
pub fn velocity_colour(velocity: u8) -> [u8; 3] {
    const STOPS: [[f64; 3]; 5] =
        [[40.0, 30.0, 110.0], [30.0, 110.0, 220.0], [30.0, 180.0, 110.0], [240.0, 200.0, 30.0], [215.0, 35.0, 30.0]];
    let t = (velocity.min(127) as f64 / 127.0) * (STOPS.len() - 1) as f64;
    let i = (t.floor() as usize).min(STOPS.len() - 2);
    let f = t - i as f64;
    let mut c = [0u8; 3];
    for k in 0..3 {
        c[k] = (STOPS[i][k] + (STOPS[i + 1][k] - STOPS[i][k]) * f).round() as u8;
    }
    c
}

/// The picture as RGB8 rows: (width, height, pixels).
pub fn piano_roll_rgb(seq: &NoteSequence, opts: &RollOptions) -> (u32, u32, Vec<u8>) {
    let lo = seq.notes.iter().map(|n| n.pitch).min().unwrap_or(21).min(21);
    let hi = seq.notes.iter().map(|n| n.pitch).max().unwrap_or(108).max(108);
    let duration = seq.total_time.max(seq.notes_end()).max(1.0);
    let max_w = opts.max_width.max(16) as f64;
    let pps = opts.pixels_per_second.max(1e-3).min((max_w - 1.0) / duration);
    let width = ((duration * pps).ceil() as u32 + 1).max(16);
    let band = opts.pixels_per_semitone.max(1);
    let height = (hi - lo + 1) as u32 * band;
    let mut px = vec![0u8; (width * height * 3) as usize];
    let put = |px: &mut [u8], x: u32, y: u32, c: [u8; 3]| {
        if x < width && y < height {
            let i = ((y * width + x) * 3) as usize;
            px[i..i + 3].copy_from_slice(&c);
        }
    };
    // Key bands, bottom = lowest pitch.
    for p in lo..=hi {
        let black = matches!(p % 12, 1 | 3 | 6 | 8 | 10);
        let y0 = (hi - p) as u32 * band;
        for y in y0..y0 + band {
            let c = if p % 12 == 0 && y == y0 + band - 1 {
                C_LINE
            } else if black {
                BLACK_KEY
            } else {
                BACKGROUND
            };
            for x in 0..width {
                put(&mut px, x, y, c);
            }
        }
    }
    // Time grid.
    let mut s = 0u32;
    while (s as f64) <= duration {
        let x = (s as f64 * pps).round() as u32;
        let c = if s.is_multiple_of(10) { TEN_SECOND_LINE } else { SECOND_LINE };
        for y in 0..height {
            put(&mut px, x, y, c);
        }
        s += 1;
    }
    // Notes, softest first so loud notes stay on top; one pixel of air between semitones.
    let mut notes: Vec<_> = seq.notes.iter().filter(|n| n.end.is_finite() && n.start.is_finite()).collect();
    notes.sort_by_key(|n| n.velocity);
    for n in notes {
        let x0 = (n.start.max(0.0) * pps).round() as u32;
        let x1 = ((n.end.max(n.start) * pps).round() as u32).max(x0 + 1);
        let y0 = (hi - n.pitch) as u32 * band;
        let y1 = y0 + band.saturating_sub(1).max(1);
        let c = velocity_colour(n.velocity);
        for y in y0..y1 {
            for x in x0..x1 {
                put(&mut px, x, y, c);
            }
        }
    }
    (width, height, px)
}

/// The piano roll as PNG bytes.
pub fn piano_roll_png(seq: &NoteSequence, opts: &RollOptions) -> Result<Vec<u8>, RenderError> {
    let (w, h, px) = piano_roll_rgb(seq, opts);
    let mut out = Vec::new();
    {
        let mut enc = png::Encoder::new(&mut out, w, h);
        enc.set_color(png::ColorType::Rgb);
        enc.set_depth(png::BitDepth::Eight);
        let mut writer = enc.write_header().map_err(|e| RenderError::Png(e.to_string()))?;
        writer.write_image_data(&px).map_err(|e| RenderError::Png(e.to_string()))?;
        writer.finish().map_err(|e| RenderError::Png(e.to_string()))?;
    }
    Ok(out)
}

pub fn write_piano_roll(seq: &NoteSequence, path: &Path, opts: &RollOptions) -> Result<(), RenderError> {
    write_atomic(path, &piano_roll_png(seq, opts)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use cadenza_notes::Note;

    #[test]
    fn ramp_ends() {
        assert_eq!(velocity_colour(0), [40, 30, 110]);
        assert_eq!(velocity_colour(127), [215, 35, 30]);
    }

    #[test]
    fn notes_land_where_they_sound() {
        let mut seq = NoteSequence::new();
        seq.notes.push(Note::new(60, 127, 1.0, 2.0));
        seq.total_time = 2.0;
        let o = RollOptions::default();
        let (w, h, px) = piano_roll_rgb(&seq, &o);
        assert_eq!(h, 88 * 6);
        assert_eq!(w, 101);
        let y = (108 - 60) * 6 + 2;
        let at = |x: u32| &px[((y * w + x) * 3) as usize..((y * w + x) * 3 + 3) as usize];
        assert_eq!(at(75), &velocity_colour(127));
        assert_ne!(at(25), &velocity_colour(127));
    }
}
