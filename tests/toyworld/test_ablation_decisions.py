"""The Refiner ablation's decisions: the registered rule on each variant's paired differences to
CLIP and to the registered Refiner, on constructed tables."""
from refclip_mm.toyworld.ablation import ablation_decisions, format_decisions


def entry(seeds, values, clip):
    return dict(seeds=seeds, values=values, differences=[v - c for v, c in zip(values, clip)])


def variant_rows(seeds, unsup, probe, locality, clip):
    return dict(unsup_miou=entry(seeds, unsup, clip['unsup_miou']),
                probe_miou=entry(seeds, probe, clip['probe_miou']),
                locality=entry(seeds, locality, clip['locality']))


CLIP = dict(unsup_miou=[10.0, 14.0, 12.0, 11.0, 13.0], probe_miou=[40.0, 42.0, 41.0, 39.0, 40.5],
            locality=[0.15, 0.16, 0.14, 0.15, 0.15])
SEEDS = [0, 1, 2, 3, 4]


def test_a_variant_is_decided_against_clip_and_against_the_registered_refiner():
    registered = variant_rows(SEEDS, [u - 4 for u in CLIP['unsup_miou']],
                              [p - 3 for p in CLIP['probe_miou']], CLIP['locality'], CLIP)
    # better than the registered Refiner on every seed, not different from CLIP on
    # unsupervised mIoU, worse on the probe, more local
    better = variant_rows(SEEDS, [10.5, 13.5, 12.4, 10.7, 13.1],
                          [p - 1 + 0.1 * i for i, p in enumerate(CLIP['probe_miou'])],
                          [v - 0.02 for v in CLIP['locality']], CLIP)
    table = {'192px': {'registered': registered, 'cosine-loss': better,
                       'grid-8': variant_rows([0], [9.0], [38.0], [0.1], CLIP)}}
    decisions = ablation_decisions(table)['192px']
    assert set(decisions) == {'cosine-loss'}  # one seed decides nothing; registered: the main table
    versus_clip = decisions['cosine-loss']['CLIP']
    assert versus_clip['unsup_miou']['verdict'] == 'undecided'
    assert versus_clip['probe_miou']['verdict'] == 'contradicted'
    assert versus_clip['locality']['verdict'] == 'holds'  # claimed < 0
    versus_registered = decisions['cosine-loss']['registered']
    assert versus_registered['unsup_miou']['verdict'] == 'holds'
    assert versus_registered['probe_miou']['verdict'] == 'holds'
    assert versus_registered['unsup_miou']['n'] == 5
    assert 'locality' not in versus_registered
    text = format_decisions(ablation_decisions(table))
    assert '| cosine-loss | 192 px | registered | 5 |' in text


def test_the_registered_difference_pairs_seeds_and_the_target_view_skips_locality():
    registered = variant_rows([0, 1, 2], [6.0, 10.0, 8.0], [37.0, 39.0, 38.0], [0.15] * 3, CLIP)
    # measured on seeds 1-4: paired with the registered Refiner on seeds 1 and 2 only
    later = variant_rows([1, 2, 3, 4], [12.0, 9.0, 11.0, 13.0], [40.0, 40.0, 39.0, 40.0],
                         [0.1] * 4, dict((k, v[1:]) for k, v in CLIP.items()))
    target = variant_rows([0, 1, 2], [11.0, 15.0, 13.0], [35.0, 36.0, 35.5], [0.05] * 3, CLIP)
    decisions = ablation_decisions({'64px': {'registered': registered, 'cosine-loss': later,
                                             'target-view': target}})['64px']
    assert decisions['cosine-loss']['registered']['unsup_miou']['n'] == 2
    assert decisions['cosine-loss']['registered']['unsup_miou']['mean'] == 1.5  # (2 + 1) / 2
    assert decisions['cosine-loss']['CLIP']['unsup_miou']['n'] == 4
    assert set(decisions['target-view']) == {'CLIP'}
    assert set(decisions['target-view']['CLIP']) == {'unsup_miou', 'probe_miou'}
    assert decisions['target-view']['CLIP']['unsup_miou']['verdict'] == 'holds'
