//! Going back through the instances: the body pipeline that hashes every
//! version of the body in one pass, and the header blocks the recipes give
//! back, checked newest first.
//!
//! The body streams once. The newest instance's body is the message's;
//! each recipe with body steps turns the body it is given into the body of
//! the instance before, line by line, and passes it on to that instance's
//! hasher and to the next recipe down. A recipe without body steps leaves
//! the body as it is, so its instance shares the hasher above it. The
//! recipes' JSON is decoded from `r=` into one arena of `RECIPE_BYTES`.
//!
//! Header blocks are small and bounded, so the earlier ones are rebuilt:
//! from the message's fields (in hash order) the newest recipe gives the
//! fields of the instance before, written in hash order into a scratch
//! store; the next recipe works from that store into a second one, and so
//! on, two scratch stores in turn.

use core::cmp::Ordering;

use super::{Intake, Reason};
use crate::canon::Canon;
use crate::canon::Sink;
use crate::canon::body_hash::{BodyHasher, BodyInterest};
use crate::dkim2::MAX_HOPS;
use crate::dkim2::hash::{
    cmp_names, hash_order, header_hash, is_unsigned_field, ordered_fields_hash,
};
use crate::dkim2::recipe::{BodyRecipe, BodyRewind, HeaderPiece, RecipeError, RecipeIndex};
use crate::header::{HeaderStore, field_name, field_value};
use crate::syntax::tag_list::decode_base64;

/// The most hops whose recipe changes the body (each adds a hasher and a
/// recipe cursor to the pipeline). More is a permerror.
pub const MAX_BODY_REWINDS: usize = 8;

/// Steps and names one recipe may hold.
pub(crate) type Recipe = RecipeIndex<64, 32>;

/// A recipe cursor turning one body version into the one below it.
#[derive(Debug, Clone)]
struct Rewind {
    cursor: BodyRewind,
    /// The instance whose `r=` it is.
    revision: u32,
    /// Its JSON in the arena.
    json: (u32, u32),
}

/// One version of the body: the lowest instance it belongs to, its hasher,
/// and the recipe that turns it into the version below, if any.
#[derive(Debug, Clone)]
struct Stage {
    revision: u32,
    hasher: BodyHasher,
    rewind: Option<Rewind>,
    error: Option<Reason>,
}

impl Stage {
    fn new(revision: u32) -> Self {
        Stage {
            revision,
            hasher: BodyHasher::new(Canon::Simple, None),
            rewind: None,
            error: None,
        }
    }
}

/// The body side of a verification.
#[derive(Debug, Clone)]
pub struct BodyPipeline<const RECIPE_BYTES: usize> {
    arena: [u8; RECIPE_BYTES],
    used: usize,
    /// The decoded JSON of each instance's recipe, by `m=`.
    recipes: [Option<(u32, u32)>; MAX_HOPS],
    stages: heapless::Vec<Stage, { MAX_BODY_REWINDS + 1 }>,
    stopped: bool,
}

/// What the body pipeline found: each body version's digest, by the
/// lowest instance it serves, and the first recipe fault.
#[derive(Debug, Clone)]
pub struct BodyDigests<'a> {
    digests: heapless::Vec<(u32, [u8; 32]), { MAX_BODY_REWINDS + 1 }>,
    error: Option<Reason>,
    arena: &'a [u8],
    recipes: &'a [Option<(u32, u32)>; MAX_HOPS],
}

impl BodyDigests<'_> {
    /// The body digest of instance `m`: the version with the lowest
    /// instance at or below which ... serves it.
    fn digest(&self, m: u32) -> Option<&[u8; 32]> {
        // Versions are listed newest first, each serving the instances
        // from its `revision` up to the one before.
        self.digests
            .iter()
            .filter(|(r, _)| *r <= m)
            .map(|(_, d)| d)
            .next()
    }

    /// The JSON of instance `m`'s recipe.
    fn recipe(&self, m: u32) -> Option<&[u8]> {
        span_of(self.recipes, m).map(|span| json_of(self.arena, span))
    }
}

impl<const RB: usize> BodyPipeline<RB> {
    pub(super) fn new() -> Self {
        BodyPipeline {
            arena: [0; RB],
            used: 0,
            recipes: [None; MAX_HOPS],
            stages: heapless::Vec::new(),
            stopped: false,
        }
    }

    /// No body byte matters any more.
    pub(super) fn stop(&mut self) {
        self.stopped = true;
        self.stages.clear();
    }

    /// Decode the recipes and build the stages, newest instance first.
    pub(super) fn plan<const B: usize, const F: usize>(
        &mut self,
        intake: &Intake<B, F>,
    ) -> Result<(), Reason> {
        let newest = u32::try_from(intake.instance_count).unwrap_or(u32::MAX);
        self.stages
            .push(Stage::new(newest))
            .map_err(|_| Reason::TooManyBodyRecipes)?;
        for m in (2..=newest).rev() {
            let b64 = intake.instance(m).and_then(|i| i.recipe);
            let Some(b64) = b64 else {
                self.lower_last(m);
                continue;
            };
            let span = self
                .decode(b64)
                .ok_or(Reason::RecipesTooLarge { revision: m })?;
            if let Some(slot) = slot_of(&mut self.recipes, m) {
                *slot = Some(span);
            }
            let recipe = Recipe::parse(json_of(&self.arena, span))
                .map_err(|error| Reason::Recipe { revision: m, error })?;
            match recipe.body() {
                BodyRecipe::Steps(_) => {
                    let cursor = BodyRewind::new(&recipe)
                        .map_err(|error| Reason::Recipe { revision: m, error })?;
                    if let Some(last) = self.stages.last_mut() {
                        last.rewind = Some(Rewind {
                            cursor,
                            revision: m,
                            json: span,
                        });
                    }
                    self.stages
                        .push(Stage::new(m.saturating_sub(1)))
                        .map_err(|_| Reason::TooManyBodyRecipes)?;
                }
                // Reported when this instance's turn comes: the instances
                // above it must match first.
                BodyRecipe::Unreconstructable => break,
                BodyRecipe::Unchanged => self.lower_last(m),
            }
        }
        Ok(())
    }

    /// The newest body version serves instance `m - 1` too.
    fn lower_last(&mut self, m: u32) {
        if let Some(last) = self.stages.last_mut() {
            last.revision = m.saturating_sub(1);
        }
    }

    /// Decode base64 `b64` into the arena.
    fn decode(&mut self, b64: &str) -> Option<(u32, u32)> {
        let free = self.arena.get_mut(self.used..)?;
        let n = decode_base64(b64.as_bytes(), free).ok()?;
        let start = u32::try_from(self.used).ok()?;
        self.used = self.used.checked_add(n)?;
        Some((start, u32::try_from(n).ok()?))
    }

    /// Take the next chunk of body.
    pub(super) fn update(&mut self, chunk: &[u8]) -> BodyInterest {
        if self.stopped {
            return BodyInterest::Done;
        }
        feed(&mut self.stages, &self.arena, chunk);
        BodyInterest::More
    }

    /// End the body: flush every recipe into the stages below, in order.
    pub(super) fn finish(&mut self) -> BodyDigests<'_> {
        let mut digests = heapless::Vec::new();
        let mut error = None;
        let arena = &self.arena;
        let mut stages = self.stages.as_mut_slice();
        while let Some((first, rest)) = stages.split_first_mut() {
            if let Some(rewind) = first.rewind.take() {
                let json = json_of(arena, rewind.json);
                let mut below = Downstream {
                    stages: rest,
                    arena,
                };
                if let Err(e) = rewind.cursor.finish(json, &mut below) {
                    first.error.get_or_insert(Reason::Recipe {
                        revision: rewind.revision,
                        error: e,
                    });
                }
            }
            let hasher =
                core::mem::replace(&mut first.hasher, BodyHasher::new(Canon::Simple, None));
            // One digest per stage: fits.
            let _ = digests.push((first.revision, hasher.finish().digest));
            if let Some(e) = first.error {
                error.get_or_insert(e);
            }
            stages = rest;
        }
        BodyDigests {
            digests,
            error,
            arena: &self.arena,
            recipes: &self.recipes,
        }
    }
}

fn slot_of(
    recipes: &mut [Option<(u32, u32)>; MAX_HOPS],
    m: u32,
) -> Option<&mut Option<(u32, u32)>> {
    let n = usize::try_from(m).ok()?.checked_sub(1)?;
    recipes.get_mut(n)
}

fn span_of(recipes: &[Option<(u32, u32)>; MAX_HOPS], m: u32) -> Option<(u32, u32)> {
    let n = usize::try_from(m).ok()?.checked_sub(1)?;
    *recipes.get(n)?
}

fn json_of(arena: &[u8], (start, len): (u32, u32)) -> &[u8] {
    let start = usize::try_from(start).unwrap_or(usize::MAX);
    let end = start.saturating_add(usize::try_from(len).unwrap_or(usize::MAX));
    arena.get(start..end).unwrap_or_default()
}

/// The stages below one recipe, as the sink its output goes to.
struct Downstream<'s, 'a> {
    stages: &'s mut [Stage],
    arena: &'a [u8],
}

impl Sink for Downstream<'_, '_> {
    fn write(&mut self, bytes: &[u8]) {
        feed(self.stages, self.arena, bytes);
    }
}

/// Give `bytes` to the first stage's hasher and, through its recipe, to
/// the stages below. The depth is at most [`MAX_BODY_REWINDS`].
fn feed(stages: &mut [Stage], arena: &[u8], bytes: &[u8]) {
    let Some((first, rest)) = stages.split_first_mut() else {
        return;
    };
    first.hasher.update(bytes);
    if first.error.is_some() {
        return;
    }
    if let Some(rewind) = first.rewind.as_mut() {
        let json = json_of(arena, rewind.json);
        let mut below = Downstream {
            stages: rest,
            arena,
        };
        if let Err(error) = rewind.cursor.push(json, bytes, &mut below) {
            first.error = Some(Reason::Recipe {
                revision: rewind.revision,
                error,
            });
        }
    }
}

/// Check every instance's hashes, newest first: the newest against the
/// message's own header block, each earlier one against the block its
/// successor's recipe gives back, and each body against its version.
pub(super) fn check_instances<const B: usize, const F: usize>(
    intake: &Intake<B, F>,
    body: BodyDigests<'_>,
) -> Result<(), Reason> {
    let newest = u32::try_from(intake.instance_count).unwrap_or(u32::MAX);
    let mut scratch: [HeaderStore<B, F>; 2] = [HeaderStore::new(), HeaderStore::new()];
    // Which header block the current instance has: the message's (None)
    // or scratch store 0 or 1.
    let mut current: Option<usize> = None;
    for m in (1..=newest).rev() {
        let instance = intake
            .instance(m)
            .ok_or(Reason::InstanceMissing { revision: m })?;
        let (header, body_hash) = instance.sha256.ok_or(Reason::NoHash { revision: m })?;
        let computed = match current {
            None => header_hash(&intake.store),
            Some(k) => ordered_fields_hash(scratch.get(k).map(|s| s.iter()).into_iter().flatten()),
        };
        if computed != header {
            return Err(Reason::HeaderHashMismatch { revision: m });
        }
        match body.digest(m) {
            Some(d) if *d == body_hash => {}
            Some(_) => return Err(Reason::BodyHashMismatch { revision: m }),
            None => {
                return Err(Reason::Unreconstructable {
                    revision: m.saturating_add(1),
                });
            }
        }
        if m == 1 {
            break;
        }
        let Some(json) = body.recipe(m) else {
            // No recipe: the instance below has the same content.
            continue;
        };
        if let Some(error) = body.error {
            return Err(error);
        }
        let recipe = Recipe::parse(json).map_err(|error| Reason::Recipe { revision: m, error })?;
        if matches!(recipe.body(), BodyRecipe::Unreconstructable) {
            return Err(Reason::Unreconstructable { revision: m });
        }
        let target = match current {
            Some(0) => 1,
            _ => 0,
        };
        let [a, b] = &mut scratch;
        let (from, to) = if target == 0 { (&*b, a) } else { (&*a, b) };
        *to = HeaderStore::default();
        let result = match current {
            None => rewind_headers(&intake.store, &hash_order(&intake.store), &recipe, json, to),
            Some(_) => {
                let all: heapless::Vec<u16, F> = (0..from.len())
                    .filter_map(|n| u16::try_from(n).ok())
                    .collect();
                rewind_headers(from, &all, &recipe, json, to)
            }
        };
        result.map_err(|e| match e {
            RewindError::Recipe(error) => Reason::Recipe { revision: m, error },
            RewindError::Store => Reason::RebuiltHeaderTooLarge { revision: m },
        })?;
        current = Some(target);
    }
    if let Some(error) = body.error {
        return Err(error);
    }
    Ok(())
}

/// Why a header block could not be rebuilt.
#[derive(Debug, Clone, Copy)]
enum RewindError {
    Recipe(RecipeError),
    /// The rebuilt block does not fit the scratch store.
    Store,
}

impl From<RecipeError> for RewindError {
    fn from(e: RecipeError) -> Self {
        RewindError::Recipe(e)
    }
}

/// Write into `to`, in hash order, the signed fields of the instance
/// before the one whose fields `order` lists (in hash order) in `from`.
fn rewind_headers<const B: usize, const F: usize>(
    from: &HeaderStore<B, F>,
    order: &[u16],
    recipe: &Recipe,
    json: &[u8],
    to: &mut HeaderStore<B, F>,
) -> Result<(), RewindError> {
    let field = |n: &u16| from.get(usize::from(*n)).unwrap_or_default();
    // The recipe's names, sorted, the unsigned ones left out. A name with
    // a JSON escape in it is not a field name anyone writes.
    let mut names: heapless::Vec<&[u8], 32> = heapless::Vec::new();
    for name in recipe.header_names(json) {
        let plain = name
            .plain()
            .ok_or(RewindError::Recipe(RecipeError::InvalidName { at: 0 }))?;
        if !is_unsigned_field(plain) {
            names
                .push(plain)
                .map_err(|_| RewindError::Recipe(RecipeError::NamesCapacity { limit: 32 }))?;
        }
    }
    names.sort_unstable_by(|a, b| cmp_names(a, b));
    let store = |r: Result<(), crate::error::Error>| r.map_err(|_| RewindError::Store);
    let mut rest = order;
    let mut pending = names.as_slice();
    loop {
        let next_field = rest.first().map(|n| field_name(field(n)));
        let next_name = pending.first().copied();
        let name = match (next_field, next_name) {
            (None, None) => return Ok(()),
            (Some(f), None) => f,
            (None, Some(r)) => r,
            (Some(f), Some(r)) => match cmp_names(f, r) {
                Ordering::Greater => r,
                _ => f,
            },
        };
        // The run of fields with this name (bottom-up: value 1 first).
        let run = rest
            .iter()
            .take_while(|n| cmp_names(field_name(field(n)), name) == Ordering::Equal)
            .count();
        let (values, after) = rest.split_at(run.min(rest.len()));
        rest = after;
        let listed = pending
            .first()
            .is_some_and(|r| cmp_names(r, name) == Ordering::Equal);
        if listed {
            pending = pending.get(1..).unwrap_or_default();
            let value = |k: usize| {
                k.checked_sub(1)
                    .and_then(|k| values.get(k))
                    .map(|n| field_value(field(n)))
            };
            recipe.apply_header(json, name, values.len(), value, |piece| match piece {
                HeaderPiece::Begin => {
                    store(to.begin())?;
                    store(to.extend(name))?;
                    store(to.extend(b":"))
                }
                HeaderPiece::Bytes(bytes) => store(to.extend(bytes)),
                HeaderPiece::End => {
                    to.end();
                    Ok(())
                }
            })?;
        } else {
            for n in values {
                store(to.begin())?;
                store(to.extend(field(n)))?;
                to.end();
            }
        }
    }
}
