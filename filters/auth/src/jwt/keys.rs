//! Loaded verification keys, and how one checks a signature.
//!
//! Where the host checks signatures natively (Envoy's `verify_signature`, see
//! [`filter_core::signature`]), RS256/384/512 and ES256/384/512 signatures are checked there:
//! microseconds instead of tens of millions of wasm instructions per new token. The module checks
//! them itself on hosts without it, and for a key the host refuses or disagrees on, as far as this
//! build checks the algorithm in the module (see [`public_key::in_module`]: the build for Envoy
//! leaves RS* and ES256/ES384 to Envoy, and checks ES512 in the module where the host cannot).
//! PS256/384/512, HMAC and EdDSA are always checked in the module. Successes of checks are
//! remembered per key (see `signature_cache`) when the token was digested.

use std::cell::Cell;

use filter_core::signature::NativeSignatures;
use filter_core::{Host, SignatureCheck};

use crate::digest_cache::Digest;

use super::alg::{Alg, Algs};
use super::public_key::{self, PORTABLE};
use super::signature_cache::SignatureCache;
use super::verifier::{native_hash, Verifier};

/// A loaded key: optional `kid`, the algorithms it accepts, and its verifier.
#[derive(Debug, Clone)]
pub struct Key {
    /// The `kid` member, if any.
    pub kid: Option<String>,
    /// The algorithms the key accepts (its `alg`, or its type's family: see `jwk`), never empty.
    pub algs: Algs,
    /// The key material.
    pub verifier: Verifier,
    /// Signatures this key verified recently.
    verified: SignatureCache,
    /// The key as the host's native check takes it, when it accepts an algorithm hosts check.
    native: Option<Native>,
}

/// A key in the form the host's `verify_signature` takes, and what the host has shown about it
/// (whatever the hash: the state is the key's).
#[derive(Debug, Clone)]
struct Native {
    /// DER `SubjectPublicKeyInfo`.
    spki: Vec<u8>,
    state: Cell<HostState>,
}

/// What the host's checks of one key have shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum HostState {
    /// Not yet confirmed: a refusal is checked again in the module.
    Untried,
    /// The host accepted a signature of this key: its verdicts stand.
    Proven,
    /// The host cannot check this key, or disagreed with the module: the module checks.
    Unusable,
}

/// Where signature checks ran, counted for the metrics.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Checks {
    /// Checked natively by the host.
    pub host: u32,
    /// Checked in the module.
    pub module: u32,
}

impl Key {
    /// A key accepting `algs` (of `verifier`'s family), with an empty verification cache.
    pub fn new(kid: Option<String>, algs: Algs, verifier: Verifier) -> Self {
        let hosts_check = algs.iter().any(|a| native_hash(a).is_some());
        let native = hosts_check
            .then(|| verifier.native_key())
            .flatten()
            .map(|spki| Native {
                spki,
                state: Cell::new(HostState::Untried),
            });
        Self {
            kid,
            algs,
            verifier,
            verified: SignatureCache::default(),
            native,
        }
    }

    /// Whether the key accepts `alg`.
    pub fn accepts(&self, alg: Alg) -> bool {
        self.algs.contains(alg)
    }

    /// The length of every signature the key makes under `alg` (see
    /// [`Verifier::signature_len`]).
    pub fn signature_len(&self, alg: Alg) -> usize {
        self.verifier.signature_len(alg)
    }

    /// Whether the host has proven it checks this key's `alg` signatures: its verdicts stand,
    /// and cost Envoy less than the SHA-256 that would remember them costs the module (about 35
    /// thousand wasm instructions for a 600-byte token), so a token that can cost only one such
    /// check is not digested (auth's token cache in front still remembers whole tokens).
    pub fn host_proven(&self, alg: Alg) -> bool {
        native_hash(alg).is_some()
            && self
                .native
                .as_ref()
                .is_some_and(|n| n.state.get() == HostState::Proven)
    }

    /// Whether this key verified the pair of `digest` (see `signature_cache`) recently.
    pub fn remembers(&self, digest: &Digest) -> bool {
        self.verified.contains(digest)
    }

    /// Like [`Verifier::verify`] under `alg` (false for an algorithm the key does not accept),
    /// checked by `host` natively where it can (see [`Key::host_proven`]); a success is
    /// remembered when the pair's `digest` is given. `checks` counts where the check ran.
    pub fn check(
        &self,
        alg: Alg,
        msg: &[u8],
        sig: &[u8],
        digest: Option<&Digest>,
        host: &dyn Host,
        checks: &mut Checks,
    ) -> bool {
        if !self.accepts(alg) {
            return false;
        }
        let ok = match self.host_verdict(alg, msg, sig, host, checks) {
            Some(ok) => ok,
            None => self.module_verdict(alg, msg, sig, checks).unwrap_or(false),
        };
        if let (true, Some(digest)) = (ok, digest) {
            self.verified.insert(*digest, ());
        }
        ok
    }

    /// The module's own verdict, counted; `None` where this build leaves the check to the host.
    fn module_verdict(
        &self,
        alg: Alg,
        msg: &[u8],
        sig: &[u8],
        checks: &mut Checks,
    ) -> Option<bool> {
        let ok = self.verifier.verify(alg, msg, sig)?;
        checks.module += 1;
        Some(ok)
    }

    /// How many verified signatures the key remembers now.
    pub fn cached_verifications(&self) -> usize {
        self.verified.len()
    }

    /// The verdict on `sig` under `alg` when the host can give it (`None`: the module must
    /// check).
    ///
    /// Only a host that may have the check is asked (see [`asks_host`]). A host that cannot
    /// check the key (no such function, a refused key or curve) is not asked again for it. Until the host has accepted one signature of the key, a refusal is checked
    /// again in the module, and if the module accepts it the host is not asked again for this
    /// key: a host that refuses valid signatures (a key it imports differently, say) costs speed,
    /// never a valid token. For an algorithm this build leaves to the host (see
    /// [`public_key::in_module`]) its refusals are taken as they are, and every signature of a
    /// key the host cannot check is refused.
    fn host_verdict(
        &self,
        alg: Alg,
        msg: &[u8],
        sig: &[u8],
        host: &dyn Host,
        checks: &mut Checks,
    ) -> Option<bool> {
        let hash = native_hash(alg)?;
        let native = self.native.as_ref()?;
        let state = native.state.get();
        if state == HostState::Unusable {
            return None;
        }
        let answer = if asks_host(alg, host.native_signatures()) {
            let Some(answer) = self.ask_host(native, hash, msg, sig, host) else {
                return Some(false); // cannot be a signature of this key: the module would refuse it too
            };
            answer
        } else if public_key::in_module(alg) {
            return None; // the module checks, as it does for every key on such a host
        } else {
            None // a host without the check refuses every key
        };
        let alg_name = alg.as_str();
        match answer {
            None => {
                if public_key::in_module(alg) {
                    log::info!(
                        "the host does not check this {alg_name} key: checking its signatures in the module"
                    );
                } else {
                    log::error!(
                        "the host cannot check this {alg_name} key, and this build of auth leaves {alg_name} to the host: its {alg_name} tokens are refused (on hosts without Envoy's verify_signature, load {PORTABLE})"
                    );
                }
                native.state.set(HostState::Unusable);
                None
            }
            Some(true) => {
                checks.host += 1;
                native.state.set(HostState::Proven);
                Some(true)
            }
            Some(false) if state == HostState::Proven => {
                checks.host += 1;
                Some(false)
            }
            Some(false) => {
                checks.host += 1;
                // A build that leaves the check to the host takes its refusal.
                let ok = self.module_verdict(alg, msg, sig, checks).unwrap_or(false);
                if ok {
                    log::warn!(
                        "the host refused an {alg_name} signature the module accepts: checking this key's signatures in the module"
                    );
                    native.state.set(HostState::Unusable);
                }
                Some(ok)
            }
        }
    }

    /// The host's answer on `sig`: `None` when `sig` cannot be a signature of this key (no need
    /// to ask), else what [`Host::verify_signature`] says.
    fn ask_host(
        &self,
        native: &Native,
        hash: &str,
        msg: &[u8],
        sig: &[u8],
        host: &dyn Host,
    ) -> Option<Option<bool>> {
        let signature = self.verifier.native_signature(sig)?;
        Some(host.verify_signature(&SignatureCheck {
            hash,
            public_key: &native.spki,
            signature: &signature,
            text: msg,
        }))
    }

    /// The key as the host's check takes it (DER `SubjectPublicKeyInfo`), if it does.
    #[cfg(test)]
    pub fn native_key(&self) -> Option<&[u8]> {
        self.native.as_ref().map(|n| n.spki.as_slice())
    }

    /// `sig` as the host's check takes it.
    #[cfg(test)]
    pub fn native_signature(&self, sig: &[u8]) -> Option<Vec<u8>> {
        self.verifier.native_signature(sig)
    }

    /// The host's own verdict on `sig` under `alg`, without this key's bookkeeping:
    /// `Some(false)` for a signature that cannot be one of this key, `None` if the host cannot
    /// check it or the algorithm is not checked by hosts.
    #[cfg(test)]
    pub fn host_only(&self, alg: Alg, msg: &[u8], sig: &[u8], host: &dyn Host) -> Option<bool> {
        let (hash, native) = (native_hash(alg)?, self.native.as_ref()?);
        self.ask_host(native, hash, msg, sig, host)
            .unwrap_or(Some(false))
    }
}

/// Whether to ask `host`'s `verify_signature` about an `alg` signature: for an algorithm this
/// build checks in the module, only a host that has shown it is Envoy (calling an unknown foreign
/// function traps in ngx_wasm_module, and a host that may lack it costs nothing to pass by); for
/// one this build leaves to the host, any host not known to lack it.
fn asks_host(alg: Alg, host: NativeSignatures) -> bool {
    if public_key::in_module(alg) {
        host == NativeSignatures::Offered
    } else {
        host != NativeSignatures::Absent
    }
}

/// The keys of one issuer.
#[derive(Debug, Clone, Default)]
pub struct KeySet {
    /// Keys in JWKS order.
    pub keys: Vec<Key>,
}
