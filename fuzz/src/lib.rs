//! Fuzzing `ReorderBuffer` against a reference model.
//!
//! [`run`] decodes bytes into a start offset and a sequence of operations (insert, pop_ready,
//! skip_gap, pop_flush, drain), applies them to a real `ReorderBuffer` and to
//! [`model::Model`] (a `BTreeMap` simulation of the documented contract), and panics at the
//! first difference in any return value or introspection figure. At the end it flushes both
//! and checks that every inserted value came out exactly once.

#[path = "buffer_model.rs"]
pub mod model;

use model::{Model, Out};
use reorder::{ReorderBuffer, ReorderError};

/// Values are arrival ids, so copies of one seq can be told apart.
type Id = u64;

/// What the buffer pops, with `(seq, id)` values.
type Popped = Result<(u64, Id), ReorderError<(u64, Id)>>;

fn decode(popped: Popped) -> Out {
    match popped {
        Ok((seq, id)) => Out::Ok(seq, id),
        Err(ReorderError::Late { seq, value }) => {
            assert_eq!(seq, value.0, "Late carries the wrong seq");
            Out::Late(seq, value.1)
        }
        Err(ReorderError::Duplicate { seq, value }) => {
            assert_eq!(seq, value.0, "Duplicate carries the wrong seq");
            Out::Duplicate(seq, value.1)
        }
        Err(ReorderError::Missing(range)) => Out::Missing(range),
    }
}

fn out(popped: Option<Popped>) -> Option<Out> {
    popped.map(decode)
}

/// Drives one fuzz case. Panics on any disagreement with the model.
pub fn run(data: &[u8]) {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    // The start offset: 0, near u64::MAX, or arbitrary from the next 8 bytes.
    let (first, ops) = match mode % 4 {
        0 => (0, rest),
        1 => (u64::MAX - u64::from(mode / 4 % 64), rest),
        _ if rest.len() >= 8 => {
            let (bytes, ops) = rest.split_at(8);
            (u64::from_le_bytes(bytes.try_into().unwrap()), ops)
        }
        _ => (u64::from(mode), rest),
    };
    let mut real = ReorderBuffer::starting_at(first);
    let mut model = Model::new(first);
    let mut emitted: Vec<Out> = Vec::new();
    let mut next_id: Id = 0;

    let check = |real: &ReorderBuffer<(u64, Id)>, model: &Model| {
        assert_eq!(real.next_seq(), model.next_seq(), "next_seq");
        assert_eq!(real.is_exhausted(), model.is_exhausted(), "is_exhausted");
        assert_eq!(real.len(), model.len(), "len");
        assert_eq!(real.is_empty(), model.is_empty(), "is_empty");
        assert_eq!(real.peak_len(), model.peak_len(), "peak_len");
        assert_eq!(real.first_held(), model.first_held(), "first_held");
        assert_eq!(real.has_ready(), model.has_ready(), "has_ready");
    };

    for pair in ops.chunks(2) {
        let op = pair[0];
        let arg = u64::from(pair.get(1).copied().unwrap_or(0));
        match op % 8 {
            0..=3 => {
                // Seqs around the start, some below it (late from the outset); the top
                // bits of `op` widen the spread now and then.
                let spread = if op & 0x80 != 0 { 250 } else { 48 };
                let offset = arg % spread;
                let seq = match offset.checked_sub(4) {
                    Some(up) => first.saturating_add(up),
                    None => first.saturating_sub(4 - offset),
                };
                let id = next_id;
                next_id += 1;
                let got = real.insert(seq, (seq, id));
                let want = model.insert(seq, id);
                let got = match got {
                    Ok(Some((s, i))) => Ok(Some(Out::Ok(s, i))),
                    Ok(None) => Ok(None),
                    Err(e) => Err(decode(Err(e))),
                };
                assert_eq!(got, want, "insert({seq}) #{id}");
                match got {
                    Ok(Some(o)) | Err(o) => emitted.push(o),
                    Ok(None) => {}
                }
            }
            4 => {
                let got = out(real.pop_ready());
                assert_eq!(got, model.pop_ready(), "pop_ready");
                emitted.extend(got);
            }
            5 if arg % 2 == 0 => {
                let got = real.skip_gap();
                assert_eq!(got, model.skip_gap(), "skip_gap");
                emitted.extend(got.map(Out::Missing));
            }
            5 => {
                let to = first.saturating_add(arg % 64);
                let got = real.skip_to(to);
                assert_eq!(got, model.skip_to(to), "skip_to({to})");
                emitted.extend(got.map(Out::Missing));
            }
            6 => {
                let got = out(real.pop_flush());
                assert_eq!(got, model.pop_flush(), "pop_flush");
                emitted.extend(got);
            }
            _ => loop {
                let got = out(real.pop_ready());
                assert_eq!(got, model.pop_ready(), "drain pop_ready");
                match got {
                    Some(o) => emitted.push(o),
                    None => break,
                }
            },
        }
        check(&real, &model);
    }
    loop {
        let got = out(real.pop_flush());
        assert_eq!(got, model.pop_flush(), "final pop_flush");
        match got {
            Some(o) => emitted.push(o),
            None => break,
        }
    }
    check(&real, &model);
    assert!(real.is_empty());
    model::check_invariants(first, next_id, &emitted);
}
