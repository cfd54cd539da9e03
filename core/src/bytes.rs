//! Copying into a caller's buffer with no panic path: the one place that
//! writes a slice at an offset, for the signers, the link codec, the
//! canonicalizer's staging buffer and BATV.

/// Copy `src` into `dst` at offset `at`. Returns the offset just past it,
/// or `None`, writing nothing, when `dst` is too short.
#[inline]
pub(crate) fn copy_at(dst: &mut [u8], at: usize, src: &[u8]) -> Option<usize> {
    let end = at.checked_add(src.len())?;
    let room = dst.get_mut(at..end)?;
    // A zip has no length check to fail; the compiler makes it a memcpy.
    for (d, s) in room.iter_mut().zip(src) {
        *d = *s;
    }
    Some(end)
}

#[cfg(test)]
mod tests {
    use super::copy_at;

    #[test]
    fn copies_what_fits_and_refuses_the_rest() {
        let mut buf = [0u8; 4];
        assert_eq!(copy_at(&mut buf, 1, b"ab"), Some(3));
        assert_eq!(&buf, b"\0ab\0");
        assert_eq!(copy_at(&mut buf, 3, b"cd"), None);
        assert_eq!(&buf, b"\0ab\0");
        assert_eq!(copy_at(&mut buf, usize::MAX, b"x"), None);
        assert_eq!(copy_at(&mut buf, 4, b""), Some(4));
        assert_eq!(copy_at(&mut buf, 5, b""), None);
    }
}
