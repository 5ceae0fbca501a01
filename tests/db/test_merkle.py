"""eawe.merkle against RFC 9162 §2.1: vectors derived by hand from the definitions, and proofs
checked by a verifier written separately from the RFC text (tests/db/audit_support.py)."""

from __future__ import annotations

import hashlib

import pytest

from eawe.merkle import (
    EMPTY_ROOT,
    MerkleFrontier,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    tree_hash,
    verify_consistency,
    verify_inclusion,
)
from tests.db.audit_support import reference_root, reference_verify_consistency, reference_verify_inclusion

# The eight leaves of the Certificate Transparency reference tests (RFC 6962's tree shapes).
LEAVES = [
    b"",
    b"\x00",
    b"\x10",
    b"\x20\x21",
    b"\x30\x31",
    b"\x40\x41\x42\x43",
    bytes(range(0x50, 0x58)),
    bytes(range(0x60, 0x70)),
]
ROOTS = {  # MTH(D[0:n]) for n = 1..8, as published with those reference tests
    1: "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    2: "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    3: "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    4: "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    5: "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    6: "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    7: "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    8: "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
}
H = [leaf_hash(d) for d in LEAVES]


def sha(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def test_hashes_follow_the_definitions_written_out() -> None:
    assert EMPTY_ROOT == sha(b"")
    assert H[0] == sha(b"\x00")  # MTH({d0}) = HASH(0x00 || d0)
    # n = 3: k = 2, MTH = HASH(0x01 || HASH(0x01 || l0 || l1) || l2)
    assert tree_hash(H[:3]) == sha(b"\x01" + sha(b"\x01" + H[0] + H[1]) + H[2])
    # n = 5: k = 4
    four = sha(b"\x01" + sha(b"\x01" + H[0] + H[1]) + sha(b"\x01" + H[2] + H[3]))
    assert tree_hash(H[:5]) == sha(b"\x01" + four + H[4])


@pytest.mark.parametrize("n", range(1, 9))
def test_roots_match_the_reference_vectors(n: int) -> None:
    assert tree_hash(H[:n]).hex() == ROOTS[n]
    assert reference_root(H[:n]).hex() == ROOTS[n]
    frontier = MerkleFrontier()
    for h in H[:n]:
        frontier.append(h)
    assert frontier.root().hex() == ROOTS[n] and frontier.size == n


def test_paths_and_proofs_written_out() -> None:
    # PATH(0, D[8]) = l1, MTH(D[2:4]), MTH(D[4:8])
    assert inclusion_proof(0, H) == [H[1], tree_hash(H[2:4]), tree_hash(H[4:8])]
    # PATH(5, D[7]): m=5 >= k=4 → PATH(1, D[4:7]) : MTH(D[0:4]); PATH(1, D[4:7]) = PATH(1, D[4:6]) : l6
    assert inclusion_proof(5, H[:7]) == [H[4], H[6], tree_hash(H[:4])]
    # PROOF(3, D[7]) (the RFC's worked example): c, d, g, l
    # with c = l2, d = l3, g = MTH(D[0:2]), l = MTH(D[4:7])
    assert consistency_proof(3, H[:7]) == [H[2], H[3], tree_hash(H[:2]), tree_hash(H[4:7])]
    # PROOF(4, D[7]): the first tree is a complete subtree, so only l
    assert consistency_proof(4, H[:7]) == [tree_hash(H[4:7])]
    assert consistency_proof(7, H[:7]) == []


@pytest.mark.parametrize("n", [1, 2, 3, 5, 7, 8, 13, 16, 33])
def test_every_proof_verifies_both_ways_and_wrong_ones_do_not(n: int) -> None:
    leaves = [leaf_hash(i.to_bytes(2, "big")) for i in range(n)]
    root = tree_hash(leaves)
    for i in range(n):
        path = inclusion_proof(i, leaves)
        assert verify_inclusion(i, n, leaves[i], path, root)
        assert reference_verify_inclusion(i, n, leaves[i], path, root)
        assert not verify_inclusion(i, n, leaf_hash(b"other"), path, root)
        if n > 1:
            assert not reference_verify_inclusion((i + 1) % n, n, leaves[i], path, root)
    for m in range(1, n):
        proof = consistency_proof(m, leaves)
        first = tree_hash(leaves[:m])
        assert verify_consistency(m, n, first, root, proof)
        assert reference_verify_consistency(m, n, first, root, proof)
        assert not verify_consistency(m, n, leaf_hash(b"forged"), root, proof)
        assert not reference_verify_consistency(m, n, first, leaf_hash(b"forged"), proof)


def test_frontier_resumes_from_its_edge() -> None:
    leaves = [leaf_hash(bytes([i])) for i in range(21)]
    first = MerkleFrontier()
    for h in leaves[:11]:
        first.append(h)
    resumed = MerkleFrontier(first.size, first.hashes)
    for h in leaves[11:]:
        resumed.append(h)
    assert resumed.root() == tree_hash(leaves)
    with pytest.raises(ValueError, match="size 11 has 3 hashes"):
        MerkleFrontier(11, first.hashes[:2])
