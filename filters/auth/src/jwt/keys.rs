//! Loaded verification keys, and how one checks a signature.
//!
//! Where the host checks signatures natively (Envoy's `verify_signature`, see
//! [`filter_core::signature`]), RS256/384/512, ES256 and ES384 signatures are checked there:
//! microseconds instead of tens of millions of wasm instructions per new token. The `portable`
//! build (the default) checks them in the module on hosts without it, and for a key the host
//! refuses or disagrees on; the build for Envoy leaves them to Envoy (see [`public_key`]).
//! Successes of checks are remembered per key (see `signature_cache`) when the token was digested.

use std::cell::Cell;

use filter_core::{Host, SignatureCheck};

use crate::digest_cache::Digest;

use super::public_key::{self, PORTABLE};
use super::signature_cache::SignatureCache;
use super::verifier::{native_form, Verifier};

/// A loaded key: optional `kid` and its verifier.
#[derive(Debug, Clone)]
pub struct Key {
    /// The `kid` member, if any.
    pub kid: Option<String>,
    /// The verifier, bound to one algorithm.
    pub verifier: Verifier,
    /// Signatures this key verified recently.
    verified: SignatureCache,
    /// The key as the host's native check takes it, for algorithms it checks.
    native: Option<Native>,
}

/// A key in the form the host's `verify_signature` takes, and what the host has shown about it.
#[derive(Debug, Clone)]
struct Native {
    /// `sha256`, `sha384` or `sha512`.
    hash: &'static str,
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
    /// A key with an empty verification cache.
    pub fn new(kid: Option<String>, verifier: Verifier) -> Self {
        let native = native_form(&verifier).map(|(hash, spki)| Native {
            hash,
            spki,
            state: Cell::new(HostState::Untried),
        });
        Self {
            kid,
            verifier,
            verified: SignatureCache::default(),
            native,
        }
    }

    /// Whether the host has proven it checks this key: its verdicts stand, and cost Envoy less
    /// than the SHA-256 that would remember them costs the module (about 35 thousand wasm
    /// instructions for a 600-byte token), so a token that can cost only one such check is not
    /// digested (auth's token cache in front still remembers whole tokens).
    pub fn host_proven(&self) -> bool {
        self.native
            .as_ref()
            .is_some_and(|n| n.state.get() == HostState::Proven)
    }

    /// Whether this key verified the pair of `digest` (see `signature_cache`) recently.
    pub fn remembers(&self, digest: &Digest) -> bool {
        self.verified.contains(digest)
    }

    /// Like [`Verifier::verify`], checked by `host` natively where it can (see
    /// [`Key::host_proven`]); a success is remembered when the pair's `digest` is given.
    /// `checks` counts where the check ran.
    pub fn check(
        &self,
        msg: &[u8],
        sig: &[u8],
        digest: Option<&Digest>,
        host: &dyn Host,
        checks: &mut Checks,
    ) -> bool {
        let ok = match self.host_verdict(msg, sig, host, checks) {
            Some(ok) => ok,
            None => self.module_verdict(msg, sig, checks).unwrap_or(false),
        };
        if let (true, Some(digest)) = (ok, digest) {
            self.verified.insert(*digest, ());
        }
        ok
    }

    /// The module's own verdict, counted; `None` where this build leaves the check to the host.
    fn module_verdict(&self, msg: &[u8], sig: &[u8], checks: &mut Checks) -> Option<bool> {
        let ok = self.verifier.verify(msg, sig)?;
        checks.module += 1;
        Some(ok)
    }

    /// How many verified signatures the key remembers now.
    pub fn cached_verifications(&self) -> usize {
        self.verified.len()
    }

    /// The verdict on `sig` when the host can give it (`None`: the module must check).
    ///
    /// A host that cannot check the key (no such function, a refused key) is not asked again
    /// for it. Until the host has accepted one signature of the key, a refusal is checked again
    /// in the module, and if the module accepts it the host is not asked again for this key: a
    /// host that refuses valid signatures (a key it imports differently, say) costs speed, never
    /// a valid token. A build that leaves RSA and ECDSA to the host takes its refusals as they
    /// are, and refuses every signature of a key the host cannot check.
    fn host_verdict(
        &self,
        msg: &[u8],
        sig: &[u8],
        host: &dyn Host,
        checks: &mut Checks,
    ) -> Option<bool> {
        let native = self.native.as_ref()?;
        let state = native.state.get();
        if state == HostState::Unusable {
            return None;
        }
        let Some(answer) = self.ask_host(native, msg, sig, host) else {
            return Some(false); // cannot be a signature of this key: the module would refuse it too
        };
        let alg = self.verifier.alg().as_str();
        match answer {
            None => {
                if public_key::MODULE_CHECKS {
                    log::info!(
                        "the host does not check {alg} signatures: checking them in the module"
                    );
                } else {
                    log::error!(
                        "the host cannot check this {alg} key, and this build of auth leaves {alg} to the host: its tokens are refused (on hosts without Envoy's verify_signature, load {PORTABLE})"
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
                let ok = self.module_verdict(msg, sig, checks).unwrap_or(false);
                if ok {
                    log::warn!(
                        "the host refused an {alg} signature the module accepts: checking this key's signatures in the module"
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
        msg: &[u8],
        sig: &[u8],
        host: &dyn Host,
    ) -> Option<Option<bool>> {
        let signature = self.verifier.native_signature(sig)?;
        Some(host.verify_signature(&SignatureCheck {
            hash: native.hash,
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

    /// The host's own verdict on `sig`, without this key's bookkeeping: `Some(false)` for a
    /// signature that cannot be one of this key, `None` if the host cannot check it or the
    /// algorithm is not checked by hosts.
    #[cfg(test)]
    pub fn host_only(&self, msg: &[u8], sig: &[u8], host: &dyn Host) -> Option<bool> {
        let native = self.native.as_ref()?;
        self.ask_host(native, msg, sig, host).unwrap_or(Some(false))
    }
}

/// The keys of one issuer.
#[derive(Debug, Clone, Default)]
pub struct KeySet {
    /// Keys in JWKS order.
    pub keys: Vec<Key>,
}
