use crate::event::Event;

/// `PerformanceOneHotEncoding`: NOTE_ON 0..127, NOTE_OFF 128..255, TIME_SHIFT(1..=100)
/// 256..355, VELOCITY(1..=bins) 356.. — the order Magenta's weights were trained on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OneHot {
    pub num_velocity_bins: u8,
    pub max_shift_steps: u32,
}

impl OneHot {
    pub fn new(num_velocity_bins: u8) -> Self {
        OneHot { num_velocity_bins, max_shift_steps: crate::MAX_SHIFT_STEPS }
    }

    pub fn num_classes(&self) -> usize {
        256 + self.max_shift_steps as usize + self.num_velocity_bins as usize
    }

    /// The class of an event, or `None` when the event has no class in this vocabulary
    /// (a shift of 0 or over the maximum, a velocity bin out of range).
    pub fn encode(&self, e: &Event) -> Option<usize> {
        match *e {
            Event::NoteOn(p) if p < 128 => Some(p as usize),
            Event::NoteOff(p) if p < 128 => Some(128 + p as usize),
            Event::TimeShift(s) if s >= 1 && s <= self.max_shift_steps => Some(255 + s as usize),
            Event::Velocity(b) if b >= 1 && b <= self.num_velocity_bins => {
                Some(255 + self.max_shift_steps as usize + b as usize)
            }
            _ => None,
        }
    }

    pub fn decode(&self, index: usize) -> Option<Event> {
        let shift_end = 256 + self.max_shift_steps as usize;
        match index {
            0..=127 => Some(Event::NoteOn(index as u8)),
            128..=255 => Some(Event::NoteOff((index - 128) as u8)),
            i if i < shift_end => Some(Event::TimeShift((i - 255) as u32)),
            i if i < self.num_classes() => Some(Event::Velocity((i - shift_end + 1) as u8)),
            _ => None,
        }
    }

    /// Steps advanced by the event of class `index` (0 for anything but a time shift).
    pub fn steps_of(&self, index: usize) -> u32 {
        match self.decode(index) {
            Some(Event::TimeShift(s)) => s,
            _ => 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Golden values of performance_encoder_decoder_test.py (16 bins).
    #[test]
    fn golden_indices() {
        let oh = OneHot::new(16);
        assert_eq!(oh.encode(&Event::NoteOn(60)), Some(60));
        assert_eq!(oh.encode(&Event::NoteOff(72)), Some(200));
        assert_eq!(oh.encode(&Event::NoteOff(0)), Some(128));
        assert_eq!(oh.encode(&Event::TimeShift(1)), Some(256));
        assert_eq!(oh.encode(&Event::TimeShift(10)), Some(265));
        assert_eq!(oh.encode(&Event::TimeShift(100)), Some(355));
        assert_eq!(oh.encode(&Event::Velocity(1)), Some(356));
        assert_eq!(oh.encode(&Event::Velocity(5)), Some(360));
        assert_eq!(oh.num_classes(), 372);
        assert_eq!(OneHot::new(32).num_classes(), 388);
        assert_eq!(OneHot::new(0).num_classes(), 356);
    }

    #[test]
    fn every_index_round_trips() {
        for bins in [0u8, 16, 32] {
            let oh = OneHot::new(bins);
            for i in 0..oh.num_classes() {
                let e = oh.decode(i).unwrap();
                assert_eq!(oh.encode(&e), Some(i));
            }
            assert_eq!(oh.decode(oh.num_classes()), None);
        }
        assert_eq!(OneHot::new(32).encode(&Event::TimeShift(0)), None);
        assert_eq!(OneHot::new(32).encode(&Event::Velocity(33)), None);
    }
}
