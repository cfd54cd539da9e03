//! Header field canonicalization, RFC 6376 §3.4.1 (simple) and §3.4.2
//! (relaxed).
//!
//! Relaxed canonicalization does its whole job in one pass over the raw
//! field: the name is lowercased and loses its whitespace, the folds are
//! unfolded, runs of whitespace become one space, whitespace after the
//! colon and at the end is deleted. Most of a value is copied as it is:
//! from a state with nothing pending, [`scan::header_clean_prefix`]
//! finds, a word at a time, the next byte that needs the state machine
//! (a tab, a CR, a space before whitespace or at the end), and everything
//! before it goes to the sink as one slice.

use super::scan;
use super::{CR, Canon, LF, SP, Sink, Staged, TAB};

/// Streaming canonicalization of one header field (RFC 6376 §3.4.1–3.4.2).
///
/// Feed the raw field (`Name:value`, folding CRLFs included, without the
/// final CRLF) in pieces of any size, then call [`finish`](Self::finish).
/// The canonical form ends with CRLF unless the field is the signature
/// field being verified or signed (§3.7).
#[derive(Debug, Clone)]
pub struct HeaderCanonicalizer {
    canon: Canon,
    state: HeaderState,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum HeaderState {
    /// In the field name (whitespace in it, only possible in obsolete
    /// syntax, is deleted).
    Name,
    /// After the colon, before the first non-whitespace byte of the value.
    LeadingValue { cr: bool },
    /// In the value. `wsp`: a whitespace run is pending; `cr`: a CR is
    /// pending (it may start a folding CRLF).
    Value { wsp: bool, cr: bool },
}

/// The value state in which bytes are copied as they are.
const CLEAN: HeaderState = HeaderState::Value {
    wsp: false,
    cr: false,
};

impl HeaderCanonicalizer {
    /// Start a field.
    pub fn new(canon: Canon) -> Self {
        HeaderCanonicalizer {
            canon,
            state: HeaderState::Name,
        }
    }

    /// Canonicalize the next piece of the raw field into `sink`.
    pub fn update<S: Sink + ?Sized>(&mut self, piece: &[u8], sink: &mut S) {
        if self.canon == Canon::Simple {
            sink.write(piece);
            return;
        }
        let mut out = Staged::new(sink);
        self.relaxed(piece, &mut out);
    }

    /// End the field. With `crlf`, the canonical CRLF that ends every
    /// hashed field but the signature field is written (§3.7).
    pub fn finish<S: Sink + ?Sized>(self, crlf: bool, sink: &mut S) {
        if self.canon == Canon::Simple {
            if crlf {
                sink.write(b"\r\n");
            }
            return;
        }
        let mut out = Staged::new(sink);
        self.finish_relaxed(crlf, &mut out);
    }

    /// The relaxed rules over `piece`: clean runs of the value are copied
    /// whole, every other byte goes through [`step`](Self::step).
    fn relaxed<S: Sink + ?Sized>(&mut self, piece: &[u8], out: &mut Staged<'_, S>) {
        // A local copy, so that the state can stay in a register.
        let mut state = self.state;
        let mut rest = piece;
        while !rest.is_empty() {
            if state == CLEAN {
                let clean = scan::header_clean_prefix(rest);
                if clean > 0
                    && let Some(tail) = rest.get(clean..)
                {
                    out.write_prefix(rest, clean);
                    rest = tail;
                }
                // The run stops at a byte that needs the state machine, or
                // at the end of the piece.
            }
            let Some((&b, tail)) = rest.split_first() else {
                break;
            };
            state = Self::step(state, b, out);
            rest = tail;
        }
        self.state = state;
    }

    /// The relaxed state machine, one byte at a time (§3.4.2).
    #[inline]
    fn step<S: Sink + ?Sized>(state: HeaderState, b: u8, out: &mut Staged<'_, S>) -> HeaderState {
        match state {
            HeaderState::Name => match b {
                b':' => {
                    out.push(b':');
                    HeaderState::LeadingValue { cr: false }
                }
                // §3.4.2: WSP before the colon is deleted; CRLF inside the
                // name cannot occur in a valid field, and unfolding deletes
                // it all the same.
                SP | TAB | CR | LF => HeaderState::Name,
                _ => {
                    out.push(b.to_ascii_lowercase());
                    HeaderState::Name
                }
            },
            HeaderState::LeadingValue { cr } => match b {
                SP | TAB if cr => {
                    out.push(CR);
                    HeaderState::Value {
                        wsp: true,
                        cr: false,
                    }
                }
                SP | TAB => HeaderState::LeadingValue { cr: false },
                CR if cr => {
                    out.push(CR);
                    HeaderState::Value {
                        wsp: false,
                        cr: true,
                    }
                }
                CR => HeaderState::LeadingValue { cr: true },
                LF if cr => HeaderState::LeadingValue { cr: false },
                _ => {
                    if cr {
                        out.push(CR);
                    }
                    out.push(b);
                    CLEAN
                }
            },
            HeaderState::Value { wsp, cr } => match b {
                SP | TAB => {
                    if cr {
                        flush_wsp(out, wsp);
                        out.push(CR);
                    }
                    HeaderState::Value {
                        wsp: true,
                        cr: false,
                    }
                }
                // An unfolded CRLF vanishes; whitespace around it stays
                // pending and collapses with it.
                LF if cr => HeaderState::Value { wsp, cr: false },
                CR => {
                    if cr {
                        flush_wsp(out, wsp);
                        out.push(CR);
                        HeaderState::Value {
                            wsp: false,
                            cr: true,
                        }
                    } else {
                        HeaderState::Value { wsp, cr: true }
                    }
                }
                _ => {
                    flush_wsp(out, wsp);
                    if cr {
                        out.push(CR);
                    }
                    out.push(b);
                    CLEAN
                }
            },
        }
    }

    /// [`finish`](Self::finish) for relaxed, into the stage the field
    /// went through.
    fn finish_relaxed<S: Sink + ?Sized>(self, crlf: bool, out: &mut Staged<'_, S>) {
        // Trailing whitespace is deleted; a CR left pending was a bare CR
        // at the end of the value and is kept as an ordinary byte. A field
        // with no colon gets none.
        match self.state {
            HeaderState::Value { wsp, cr: true } => {
                flush_wsp(out, wsp);
                out.push(CR);
            }
            HeaderState::LeadingValue { cr: true } => out.push(CR),
            _ => {}
        }
        if crlf {
            out.write(b"\r\n");
        }
    }
}

fn flush_wsp<S: Sink + ?Sized>(out: &mut Staged<'_, S>, wsp: bool) {
    if wsp {
        out.push(SP);
    }
}

/// Canonicalize one whole header field into `sink` (see
/// [`HeaderCanonicalizer`]). In relaxed form the field and its CRLF reach
/// the sink together, in one write when the field is short.
pub fn canonicalize_header<S: Sink + ?Sized>(canon: Canon, field: &[u8], crlf: bool, sink: &mut S) {
    let mut c = HeaderCanonicalizer::new(canon);
    if canon == Canon::Simple {
        c.update(field, sink);
        c.finish(crlf, sink);
        return;
    }
    let mut out = Staged::new(sink);
    c.relaxed(field, &mut out);
    c.finish_relaxed(crlf, &mut out);
}

#[cfg(test)]
mod tests;
