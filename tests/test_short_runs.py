"""tools/train.py --max-iters: a short run of an epoch-based config, without registry warnings."""
import glob
import os.path as osp

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
TINY_REFINER = osp.join(REPO, 'configs', 'refiner', 'refiner_clip-tiny_1xb4-40i_synthetic-64.py')


def test_max_iters_stops_an_epoch_based_config(synthetic_root, tiny_clip_file, run_python, tmp_path):
    config = tmp_path / 'epoch_based.py'
    config.write_text(
        f"_base_ = ['{TINY_REFINER}']\n"
        "train_dataloader = dict(sampler=dict(type='DefaultSampler', shuffle=True))\n"
        "train_cfg = dict(_delete_=True, type='EpochBasedTrainLoop', max_epochs=5)\n"
        "param_scheduler = [dict(type='CosineAnnealingLR', T_max=5, by_epoch=True, begin=0, "
        "end=5, convert_to_iter_based=True)]\n"
        "default_hooks = dict(checkpoint=dict(by_epoch=True, interval=1))\n"
        "log_processor = dict(by_epoch=True)\n")
    work = tmp_path / 'work'
    proc = run_python([osp.join(REPO, 'tools', 'train.py'), str(config), '--work-dir', str(work),
                       '--max-iters', '2', '--cfg-options', f'model.pretrained={tiny_clip_file}',
                       f'train_dataloader.dataset.data_root={synthetic_root}'])
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-3000:]
    # 12 images in batches of 4: one epoch is 3 iterations, so 2 means the limit stopped it
    assert [osp.basename(p) for p in glob.glob(str(work / '*.pth'))] == ['iter_2.pth']
    assert 'Iter(train) [2/2]' in out and '[3/' not in out
    assert 'Failed to search registry' not in out
