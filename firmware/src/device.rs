//! The command handler: key slots, the signature in progress, and the
//! answers. Board-independent; the caller moves bytes.

use mass_core::link::{
    self, DeviceError, ErrorCode, FRAME_HEADER_LEN, FrameError, InfoReply, Kind, MAX_PAYLOAD,
    Provision, SEQ_UNSOLICITED, SealBegin, SignBegin, SlotInfo, Stats,
};

use crate::keys::{KeySlot, PublicKey, SLOTS};
use crate::session::Session;
use crate::{heap, stack, ticks};

/// Everything the device remembers.
pub struct Device {
    slots: [KeySlot; SLOTS],
    session: Option<Session>,
    stats: Stats,
}

impl Default for Device {
    fn default() -> Self {
        Self::new()
    }
}

impl Device {
    /// A device with empty slots.
    pub const fn new() -> Self {
        Device {
            slots: [const { KeySlot::Empty }; SLOTS],
            session: None,
            stats: Stats {
                heap_peak: 0,
                heap_used: 0,
                heap_size: 0,
                stack_peak: 0,
                stack_size: 0,
                body_bytes: 0,
                body_ticks: 0,
                last_sign_ticks: 0,
                ticks_per_mega_instruction: 0,
            },
        }
    }

    /// Record the SysTick scale measured at boot.
    pub fn set_calibration(&mut self, ticks_per_mega_instruction: u32) {
        self.stats.ticks_per_mega_instruction = ticks_per_mega_instruction;
    }

    /// The error frame for a framing fault.
    pub fn framing_error<'t>(&mut self, e: FrameError, tx: &'t mut [u8]) -> &'t [u8] {
        error_frame(SEQ_UNSOLICITED, DeviceError::new(e.code()), tx)
    }

    /// Act on one frame; returns the answer frame (in `tx`) and whether the
    /// request carried key material that the caller must wipe.
    pub fn handle<'t>(&mut self, frame: link::Frame<'_>, tx: &'t mut [u8]) -> (&'t [u8], bool) {
        let seq = frame.seq;
        let kind = Kind::from_u8(frame.kind);
        let wipe = kind == Some(Kind::Provision);
        let result = match kind {
            Some(Kind::Info) => self.info(seq, tx),
            Some(Kind::Provision) => self.provision(frame.payload).map(|()| ok_frame(seq, tx)),
            Some(Kind::SignBegin) => self.sign_begin(frame.payload).map(|()| ok_frame(seq, tx)),
            Some(Kind::SealBegin) => self.seal_begin(frame.payload).map(|()| ok_frame(seq, tx)),
            Some(Kind::Dkim2Begin) => self.dkim2_begin(frame.payload).map(|()| ok_frame(seq, tx)),
            Some(Kind::Header) => self.header(frame.payload).map(|()| ok_frame(seq, tx)),
            Some(Kind::Body) => self.body(frame.payload).map(|()| ok_frame(seq, tx)),
            Some(Kind::SignEnd) => self.sign_end(seq, tx),
            Some(Kind::Abort) => {
                self.session = None;
                Ok(ok_frame(seq, tx))
            }
            Some(Kind::Stats) => self.stats(seq, tx),
            _ => Err(DeviceError::new(ErrorCode::UnknownKind)),
        };
        match result {
            Ok(len) => (tx.get(..len).unwrap_or(&[]), wipe),
            Err(e) => {
                defmt::warn!("request {} (kind {=u8:#x}) failed: {}", seq, frame.kind, e);
                (error_frame(seq, e, tx), wipe)
            }
        }
    }

    fn info(&mut self, seq: u8, tx: &mut [u8]) -> Result<usize, DeviceError> {
        let mut keys: heapless::Vec<PublicKey, SLOTS> = heapless::Vec::new();
        for slot in &self.slots {
            let _ = keys.push(slot.public_key()?);
        }
        let mut slots = heapless::Vec::new();
        for (id, (slot, key)) in self.slots.iter().zip(&keys).enumerate() {
            let _ = slots.push(SlotInfo {
                key_id: id as u8,
                algorithm: slot.algorithm(),
                bits: slot.bits(),
                public_key: key.as_bytes(),
            });
        }
        let reply = InfoReply {
            protocol: link::PROTOCOL_VERSION,
            firmware: crate::FIRMWARE,
            board: crate::board::NAME,
            max_payload: MAX_PAYLOAD as u16,
            header_bytes: crate::session::HEADER_BYTES as u32,
            header_fields: crate::session::HEADER_FIELDS as u16,
            slots,
        };
        seal(seq, Kind::InfoReply, tx, |out| reply.encode(out))
    }

    fn provision(&mut self, payload: &[u8]) -> Result<(), DeviceError> {
        let p = Provision::decode(payload).map_err(|_| DeviceError::new(ErrorCode::Malformed))?;
        let slot = self
            .slots
            .get_mut(usize::from(p.key_id))
            .ok_or(DeviceError::new(ErrorCode::NoSuchKey))?;
        if !matches!(slot, KeySlot::Empty) {
            return Err(DeviceError::new(ErrorCode::SlotOccupied));
        }
        *slot = KeySlot::load(p.algorithm, p.key, p.seed)?;
        defmt::info!(
            "slot {} provisioned: {} ({} bits)",
            p.key_id,
            p.algorithm,
            slot.bits()
        );
        Ok(())
    }

    fn sign_begin(&mut self, payload: &[u8]) -> Result<(), DeviceError> {
        // A new SIGN-BEGIN replaces a signature left unfinished.
        self.session = None;
        let req = SignBegin::decode(payload).map_err(|_| DeviceError::new(ErrorCode::Malformed))?;
        let slot = self
            .slots
            .get(usize::from(req.key_id))
            .ok_or(DeviceError::new(ErrorCode::NoSuchKey))?;
        Session::start(&mut self.session, &req, slot)?;
        Ok(())
    }

    fn seal_begin(&mut self, payload: &[u8]) -> Result<(), DeviceError> {
        // Like SIGN-BEGIN, it replaces whatever was left unfinished.
        self.session = None;
        let req = SealBegin::decode(payload).map_err(|_| DeviceError::new(ErrorCode::Malformed))?;
        let slot = self
            .slots
            .get(usize::from(req.key_id))
            .ok_or(DeviceError::new(ErrorCode::NoSuchKey))?;
        Session::start_seal(&mut self.session, &req, slot)?;
        Ok(())
    }

    fn dkim2_begin(&mut self, payload: &[u8]) -> Result<(), DeviceError> {
        // Like SIGN-BEGIN, it replaces whatever was left unfinished.
        self.session = None;
        // The slot is the payload's first byte; the session decodes the rest.
        let key_id = payload
            .first()
            .ok_or(DeviceError::new(ErrorCode::Malformed))?;
        let slot = self
            .slots
            .get(usize::from(*key_id))
            .ok_or(DeviceError::new(ErrorCode::NoSuchKey))?;
        Session::start_dkim2(&mut self.session, payload, slot)
    }

    fn header(&mut self, field: &[u8]) -> Result<(), DeviceError> {
        let session = self
            .session
            .as_mut()
            .ok_or(DeviceError::new(ErrorCode::NoSession))?;
        let r = session.header(field);
        if r.is_err() {
            self.session = None;
        }
        r
    }

    fn body(&mut self, chunk: &[u8]) -> Result<(), DeviceError> {
        let session = self
            .session
            .as_mut()
            .ok_or(DeviceError::new(ErrorCode::NoSession))?;
        let t0 = ticks::now();
        let r = session.body(chunk);
        self.stats.body_ticks += ticks::now() - t0;
        self.stats.body_bytes += chunk.len() as u64;
        if r.is_err() {
            self.session = None;
        }
        r
    }

    fn sign_end(&mut self, seq: u8, tx: &mut [u8]) -> Result<usize, DeviceError> {
        // Finished in place, then dropped: the session is too large to
        // move onto the stack on the budget board.
        let r = self.finish_session(tx);
        self.session = None;
        let (kind, n, ticks) = r?;
        self.stats.last_sign_ticks = ticks;
        link::seal_frame(seq, kind, n, tx).map_err(|_| DeviceError::new(ErrorCode::Malformed))
    }

    /// SIGN-END's work: the answer's kind, its length in `tx`'s payload,
    /// and the ticks it took.
    fn finish_session(&mut self, tx: &mut [u8]) -> Result<(Kind, usize, u64), DeviceError> {
        let session = self
            .session
            .as_mut()
            .ok_or(DeviceError::new(ErrorCode::NoSession))?;
        let slot = self
            .slots
            .get_mut(usize::from(session.key_id()))
            .ok_or(DeviceError::new(ErrorCode::NoSuchKey))?;
        let t0 = ticks::now();
        let payload = tx
            .get_mut(FRAME_HEADER_LEN..FRAME_HEADER_LEN + MAX_PAYLOAD)
            .ok_or(DeviceError::new(ErrorCode::Malformed))?;
        let n = session.finish(slot, payload)?;
        Ok((session.answer_kind(), n, ticks::now() - t0))
    }

    fn stats(&mut self, seq: u8, tx: &mut [u8]) -> Result<usize, DeviceError> {
        self.stats.heap_peak = heap::peak() as u32;
        self.stats.heap_used = heap::used() as u32;
        self.stats.heap_size = heap::size() as u32;
        self.stats.stack_peak = stack::peak() as u32;
        self.stats.stack_size = stack::size() as u32;
        let stats = self.stats;
        seal(seq, Kind::StatsReply, tx, |out| stats.encode(out))
    }
}

/// Encode a payload in place and seal the frame around it.
fn seal(
    seq: u8,
    kind: Kind,
    tx: &mut [u8],
    encode: impl FnOnce(&mut [u8]) -> Result<usize, link::EncodeError>,
) -> Result<usize, DeviceError> {
    let bad = |_| DeviceError::new(ErrorCode::Malformed);
    let payload = tx
        .get_mut(FRAME_HEADER_LEN..FRAME_HEADER_LEN + MAX_PAYLOAD)
        .ok_or(DeviceError::new(ErrorCode::Malformed))?;
    let n = encode(payload).map_err(bad)?;
    link::seal_frame(seq, kind, n, tx).map_err(bad)
}

fn ok_frame(seq: u8, tx: &mut [u8]) -> usize {
    link::encode_frame(seq, Kind::Ok, &[], tx).unwrap_or(0)
}

fn error_frame(seq: u8, e: DeviceError, tx: &mut [u8]) -> &[u8] {
    let mut payload = [0u8; 2];
    let n = e.encode(&mut payload).unwrap_or(0);
    let len =
        link::encode_frame(seq, Kind::Error, payload.get(..n).unwrap_or(&[]), tx).unwrap_or(0);
    tx.get(..len).unwrap_or(&[])
}
