"""CatSegOVHead: permutation equivariance over classes, any class count, chunked == whole,
attention fine-tuning of the backbone, bad embedding files."""
import pytest
import torch
from factories import class_embeddings_file
from mmengine.registry import DefaultScope

from refclip_mm.models.segmentors import CatSegCLIPViT, CatSegOVHead, ClassAggregation

D = 32


def make_head(train, test=None, chunk=None):
    """The head as an mmseg config builds it: in the mmseg scope, where its loss is registered."""
    torch.manual_seed(0)
    with DefaultScope.overwrite_default_scope('mmseg'):
        return CatSegOVHead(text_dim=D, guidance_channels=(16, 16), class_embeddings=str(train),
                            test_class_embeddings=str(test) if test else None, embed_dims=32,
                            appearance_dims=8, text_guidance_dims=8, num_layers=2, num_heads=4,
                            window_size=4, decoder_dims=(16, 16), decoder_guidance_dims=(4, 4),
                            class_chunk_size=chunk, loss_decode=dict(type='CrossEntropyLoss'))


def feats(b=2, h=6, w=10):
    g = torch.Generator().manual_seed(1)
    return (torch.randn(b, 16, h, w, generator=g), torch.randn(b, 16, h, w, generator=g),
            torch.randn(b, D, h, w, generator=g))


def test_class_aggregation_is_permutation_equivariant():
    torch.manual_seed(0)
    for kind in ('linear', 'softmax'):
        agg = ClassAggregation(16, 8, num_heads=4, pool_size=(2, 2), kind=kind).eval()
        x, text = torch.randn(2, 9, 16, 6, 6), torch.randn(9, 8)
        perm = torch.randperm(9)
        with torch.no_grad():
            out, out_p = agg(x.clone(), text), agg(x[:, perm].clone(), text[perm])
        assert torch.allclose(out[:, perm], out_p, atol=1e-5)
        assert not torch.allclose(out, x)  # it does something


def test_head_is_permutation_equivariant_and_takes_any_class_count(tmp_path):
    class_embeddings_file(tmp_path / 'train.pth', [f'c{i}' for i in range(7)])
    test_emb = class_embeddings_file(tmp_path / 'test.pth', [f't{i}' for i in range(13)], seed=3).embeddings
    head = make_head(tmp_path / 'train.pth', tmp_path / 'test.pth').eval()
    assert head.num_classes == 13 and head.out_channels == 13
    head.train()
    assert head.num_classes == 7
    head.eval()
    x = feats()
    with torch.no_grad():
        logits = head(x)
        assert logits.shape == (2, 13, 24, 40)  # x4 upsampling of the 6 x 10 token grid
        perm = torch.randperm(13)
        head.class_bank.test_embeddings = test_emb[perm]
        permuted = head(x)
    assert torch.allclose(logits[:, perm], permuted, atol=1e-4)


def test_chunked_classes_match_whole_with_and_without_autograd(tmp_path):
    class_embeddings_file(tmp_path / 'e.pth', [f'c{i}' for i in range(11)])
    whole, chunked = make_head(tmp_path / 'e.pth'), make_head(tmp_path / 'e.pth', chunk=3)
    chunked.load_state_dict(whole.state_dict())
    x = feats()
    whole.eval(), chunked.eval()
    with torch.no_grad():
        assert torch.allclose(whole(x), chunked(x), atol=1e-5)
    whole.train(), chunked.train()
    a, b = whole(x), chunked(x)
    assert torch.allclose(a, b, atol=1e-5)
    b.square().mean().backward()
    assert chunked.cost_embed.weight.grad is not None
    assert chunked.layers[0].classes.attn.qk.weight.grad.abs().sum() > 0


def test_bad_embedding_files_are_named(tmp_path):
    class_embeddings_file(tmp_path / 'd64.pth', ['a', 'b'], dim=64)
    with pytest.raises(ValueError, match=r'd64\.pth.*64-d.*expects 32-d'):
        make_head(tmp_path / 'd64.pth')
    with pytest.raises(FileNotFoundError, match='missing.pth'):
        make_head(tmp_path / 'missing.pth')
    class_embeddings_file(tmp_path / 'ok.pth', ['cat', 'dog'])
    head = make_head(tmp_path / 'ok.pth')
    with pytest.raises(KeyError, match=r"ok\.pth.*'zebra'"):
        head.set_class_names(['cat', 'zebra'], 'test')
    head.set_class_names(['dog', 'background', 'cat'], 'test')  # background: the file's entry
    assert head.eval().num_classes == 3
    with pytest.raises(ValueError, match='48-d dense features'):
        head(feats()[:2] + (torch.randn(2, 48, 6, 10), ))


def test_backbone_finetunes_only_attention(tiny_assets):
    from refclip_mm.clip import TINY_OPENAI_ARCH
    backbone = CatSegCLIPViT(clip_model=dict(TINY_OPENAI_ARCH), pretrained=tiny_assets['weights'],
                             out_indices=(0, 1), finetune='attention')
    trainable = [n for n, p in backbone.named_parameters() if p.requires_grad]
    assert trainable and all('.attn.' in n for n in trainable)
    assert len({n.split('.attn.')[0] for n in trainable}) == 3  # every block
    outs = backbone(torch.randn(1, 3, 64, 48))
    assert [tuple(o.shape) for o in outs] == [(1, 64, 8, 6), (1, 64, 8, 6), (1, 32, 8, 6)]
    frozen = CatSegCLIPViT(clip_model=dict(TINY_OPENAI_ARCH), out_indices=(1, ), finetune='none')
    assert not any(p.requires_grad for p in frozen.parameters())
    with pytest.raises(ValueError, match='finetune'):
        CatSegCLIPViT(clip_model=dict(TINY_OPENAI_ARCH), out_indices=(1, ), finetune='attn')
