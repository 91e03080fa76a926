//! Cutting a raw (T, C) recording into (N, C, size) windows, as UCI HAR was cut
//! (size 128, step 64).
use std::num::NonZeroUsize;

use numpy::ndarray::{s, Array3, ArrayView2};

use crate::error::{Error, Result};

/// Windows `signal[w*step .. w*step+size, :]`, transposed to (C, size), for every `w` whose
/// window fits. A recording shorter than `size` gives no windows: shape (0, C, size).
pub fn sliding_windows<T: Copy>(
    signal: ArrayView2<'_, T>,
    size: NonZeroUsize,
    step: NonZeroUsize,
) -> Result<Array3<T>> {
    let (size, step) = (size.get(), step.get());
    let (steps, channels) = signal.dim();
    let n = if steps < size {
        0
    } else {
        (steps - size) / step + 1
    };
    let too_big = || {
        Error::InvalidArgument(format!(
            "{n} windows of {channels} x {size} values do not fit in memory; \
             use a larger step or a shorter signal"
        ))
    };
    let len = n
        .checked_mul(channels)
        .and_then(|v| v.checked_mul(size))
        .ok_or_else(too_big)?;
    let mut out = Vec::new();
    out.try_reserve_exact(len).map_err(|_| too_big())?;
    for w in 0..n {
        let window = signal.slice(s![w * step..w * step + size, ..]);
        for column in window.columns() {
            out.extend(column.iter().copied());
        }
    }
    Array3::from_shape_vec((n, channels, size), out).map_err(|e| Error::Runtime(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use numpy::ndarray::Array2;

    fn nz(v: usize) -> NonZeroUsize {
        NonZeroUsize::new(v).unwrap()
    }

    #[test]
    fn windows_overlap_and_transpose() {
        // T = 7, C = 2: column 0 is 0..7, column 1 is 100..107.
        let signal = Array2::from_shape_fn((7, 2), |(t, c)| (t + 100 * c) as i32);
        let w = sliding_windows(signal.view(), nz(4), nz(2)).unwrap();
        assert_eq!(w.dim(), (2, 2, 4));
        assert_eq!(
            w.as_slice().unwrap(),
            [0, 1, 2, 3, 100, 101, 102, 103, 2, 3, 4, 5, 102, 103, 104, 105]
        );
    }

    #[test]
    fn short_recording_gives_no_windows() {
        let signal = Array2::<f32>::zeros((3, 9));
        assert_eq!(
            sliding_windows(signal.view(), nz(4), nz(1)).unwrap().dim(),
            (0, 9, 4)
        );
    }
}
