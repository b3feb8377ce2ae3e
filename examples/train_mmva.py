"""Trains a tiny image-music matching model the way MMVA does: random image-music pairs of the
training split (songs held out whole), scored by the similarity of their valence and arousal
(imemnet_c_tools.pairs, whose default kernel is an assumption: see its docstring); each item's
valence and arousal are learnt beside the pair's score. Each epoch draws new pairs; the loss goes down.

From a clone, install torch's CPU build (plain pip takes a CUDA one), then this folder with the
`train` extra (torch and torchdata) and the audio extra of your datasets line (docs/releases.md):

    pip install torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu  # torch's CPU build
    pip install ".[audio,train]"             # on datasets 4 and newer, or
    pip install ".[audio-librosa,train]"     # on datasets 2.21 to 3.6

    python examples/train_mmva.py [--data-dir data/sample] [--epochs 4] [--workers 2]
        [--cache] [--checkpoints DIR [--checkpoint-every N] [--stop-after-steps K]] [--log-pairs DIR]
        [--predictions DIR [--predictions-split test]]
    torchrun --standalone --nproc_per_node 2 examples/train_mmva.py [the same options]

- Under torchrun each rank trains a DistributedDataParallel copy of the model (gloo, on the CPU)
  on its own share of the epoch's pairs, read by its own DataLoader workers.
- `--cache` runs each picture and each clip once through `picture_pixels` and `clip_spectrum`
  (imemnet_c_tools.pairs.preprocess, kept in the datasets cache) and trains on those arrays;
  without it, every pair's picture and clip are decoded anew by datasets in the workers.
- `--checkpoints DIR` keeps the model, the optimiser and each rank's position in the epoch there
  every `--checkpoint-every` steps (torchdata's StatefulDataLoader); started again with the same
  DIR, the run continues the same epoch with exactly the pairs it had not seen.
  `--stop-after-steps K` stops after K steps with a checkpoint, as a preempted job would.
- `--log-pairs DIR` writes the ids of every pair each rank trained on, one file per rank.
- `--predictions DIR` writes, after training (rank 0), the model's predictions on the held-out
  split (`--predictions-split`, default test) in the files `imemnet-c evaluate` reads
  (docs/evaluation.md): DIR/va.csv, DIR/scores.csv and DIR/embeddings.npz.
"""

import argparse
import contextlib
import csv
import os
import zlib

import numpy
import torch
from datasets.distributed import split_dataset_by_node
from torchdata.stateful_dataloader import StatefulDataLoader

from imemnet_c_tools import sample
from imemnet_c_tools.evaluate import SPLITS, split_items
from imemnet_c_tools.pairs import preprocess, va_pairs

SIDE, RATE, SECONDS, WORDS, VOCABULARY = 32, 16000, 0.25, 16, 1024


def picture_pixels(picture):
    """A picture as SIDE x SIDE RGB bytes."""
    return {"pixels": numpy.asarray(picture.convert("RGB").resize((SIDE, SIDE)), numpy.uint8)}


def clip_spectrum(samples, sampling_rate, bins=256):
    """A mono clip at RATE, cropped or repeated to SECONDS, as its standardised log spectrum in `bins` bands."""
    samples = numpy.resize(numpy.asarray(samples, numpy.float32), int(RATE * SECONDS))
    bands = numpy.log1p(numpy.abs(numpy.fft.rfft(samples))[: bins * 4]).reshape(bins, -1).mean(axis=1)
    return {"spectrum": ((bands - bands.mean()) / (bands.std() + 1e-6)).astype(numpy.float32)}


def decoded_pair(pair):
    """Runs in the DataLoader's workers, on a pair datasets decoded: what `preprocess` keeps."""
    audio = pair["audio"]
    samples = numpy.asarray(audio["array"], numpy.float32)
    return {**picture_pixels(pair["image"]), **clip_spectrum(samples.reshape(-1), audio["sampling_rate"])}


def model_inputs(batch):
    """A batch's tensors for the model: pixels scaled to [0, 1], caption words hashed to ids."""
    return {**image_inputs(batch["pixels"]), **clip_inputs(batch["spectrum"], batch["caption"])}


def image_inputs(pixels):
    return {"image": torch.as_tensor(numpy.asarray(pixels)).permute(0, 3, 1, 2).float() / 255}


def clip_inputs(spectra, captions):
    words = [
        [zlib.crc32(w.encode()) % VOCABULARY for w in str(caption).lower().split()][:WORDS] for caption in captions
    ]
    return {
        "audio": torch.as_tensor(numpy.asarray(spectra, numpy.float32)),
        "words": torch.tensor([w + [0] * (WORDS - len(w)) for w in words]),
    }


class Matcher(torch.nn.Module):
    """An image, a clip and its caption embedded; the pair's score predicted from them, and each
    item's valence and arousal from its own embedding (the image's; the clip's, with its caption)."""

    def __init__(self, width=16):
        super().__init__()
        self.image = torch.nn.Sequential(
            torch.nn.Conv2d(3, 8, 5, stride=2), torch.nn.ReLU(), torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten()
        )
        self.image_out = torch.nn.Linear(8, width)
        self.audio = torch.nn.Linear(256, width)
        self.words = torch.nn.EmbeddingBag(VOCABULARY, width)
        self.head = torch.nn.Linear(3 * width, 1)
        self.image_va = torch.nn.Linear(width, 2)
        self.clip_va = torch.nn.Linear(width, 2)

    def embed_image(self, inputs):
        return self.image_out(self.image(inputs["image"]))

    def embed_clip(self, inputs):
        return self.audio(inputs["audio"]) + self.words(inputs["words"])

    def forward(self, inputs):
        """{"score": the pair's, "image_va", "clip_va": each item's (valence, arousal)}, all in [0, 1]."""
        image, audio, words = self.embed_image(inputs), self.audio(inputs["audio"]), self.words(inputs["words"])
        return {
            "score": torch.sigmoid(self.head(torch.cat([image, audio, words], dim=1))).squeeze(1),
            "image_va": torch.sigmoid(self.image_va(image)),
            "clip_va": torch.sigmoid(self.clip_va(audio + words)),
        }


def loss_of(predicted, batch):
    """The pair's score and both items' VA, each by mean squared error."""
    image_va = torch.stack([batch["image_valence"], batch["image_arousal"]], dim=1)
    clip_va = torch.stack([batch["music_valence"], batch["music_arousal"]], dim=1)
    mse = torch.nn.functional.mse_loss
    return (
        mse(predicted["score"], batch["score"])
        + mse(predicted["image_va"], image_va)
        + mse(predicted["clip_va"], clip_va)
    )


class Checkpoints:
    """One file per rank in a folder: the model, the optimiser, the epoch and the loader's position."""

    def __init__(self, folder, rank):
        self.path = folder and os.path.join(folder, f"rank-{rank}.pt")
        if folder:
            os.makedirs(folder, exist_ok=True)

    def load(self):
        return torch.load(self.path, weights_only=False) if self.path and os.path.exists(self.path) else None

    def save(self, model, optimiser, epoch, loader):
        if self.path:
            state = {"model": model.state_dict(), "optimiser": optimiser.state_dict(), "epoch": epoch}
            torch.save({**state, "loader": None if loader is None else loader.state_dict()}, f"{self.path}.partial")
            os.replace(f"{self.path}.partial", self.path)  # a checkpoint is whole or the previous one stays


def epoch_loader(args, epoch, items, rank, world):
    pairs = va_pairs(
        args.data_dir, "train", seed=args.seed, epoch=epoch, pairs_per_item=8, sampling_rate=RATE, items=items
    )
    if items is None:
        pairs = pairs.map(decoded_pair, remove_columns=["image", "audio"])
    if world > 1:
        pairs = split_dataset_by_node(pairs, rank, world)
    return StatefulDataLoader(pairs, batch_size=args.batch_size, num_workers=args.workers)


def log_pairs(folder, rank, epoch, batch):
    """Appends the ids of a batch's pairs to the rank's list of the pairs it trained on."""
    with open(os.path.join(folder, f"rank-{rank}.txt"), "a", encoding="utf-8") as log:
        log.writelines(f"{epoch} {i} {c}\n" for i, c in zip(batch["image_id"], batch["clip_id"], strict=True))


def train(args):
    """Trains; returns the mean loss of each epoch this run trained, or None if it stopped early."""
    world = int(os.environ.get("WORLD_SIZE", 1))
    rank = int(os.environ.get("RANK", 0))
    if world > 1:
        torch.distributed.init_process_group("gloo")
    for turn in range(world):  # rank 0 plans and extracts first; the others then find it done
        if turn == rank:
            items = (
                preprocess(args.data_dir, image=picture_pixels, audio=clip_spectrum, sampling_rate=RATE)
                if args.cache
                else None
            )
            va_pairs(args.data_dir, "train", seed=args.seed, items=items)
        if world > 1:
            torch.distributed.barrier()
    torch.manual_seed(args.seed)
    model = Matcher()
    optimiser = torch.optim.Adam(model.parameters(), lr=0.01)
    checkpoints = Checkpoints(args.checkpoints, rank)
    state, first_epoch = checkpoints.load(), 0
    if state:
        model.load_state_dict(state["model"])
        optimiser.load_state_dict(state["optimiser"])
        first_epoch = state["epoch"]
        print(f"rank {rank}: resuming epoch {first_epoch}" + (" mid-epoch" if state["loader"] else ""), flush=True)
    trained = torch.nn.parallel.DistributedDataParallel(model) if world > 1 else model
    losses, steps = [], 0
    for epoch in range(first_epoch, args.epochs):
        loader = epoch_loader(args, epoch, items, rank, world)
        if state and state["epoch"] == epoch and state["loader"]:
            loader.load_state_dict(state["loader"])
        epoch_losses = []
        with trained.join() if world > 1 else contextlib.nullcontext():  # ranks may hold a batch more or less
            for batch in loader:
                loss = loss_of(trained(model_inputs(batch)), batch)
                optimiser.zero_grad()
                loss.backward()
                optimiser.step()
                epoch_losses.append(loss.item())
                steps += 1
                if args.log_pairs:
                    log_pairs(args.log_pairs, rank, epoch, batch)
                if args.checkpoint_every and steps % args.checkpoint_every == 0 or steps == args.stop_after_steps:
                    checkpoints.save(model, optimiser, epoch, loader)
                if steps == args.stop_after_steps:
                    print(f"rank {rank}: stopped after {steps} steps, checkpoint kept", flush=True)
                    return None
        checkpoints.save(model, optimiser, epoch + 1, None)
        losses.append(sum(epoch_losses) / max(len(epoch_losses), 1))
        print(f"rank {rank} epoch {epoch}: {len(epoch_losses)} batches, mean loss {losses[-1]:.4f}", flush=True)
    if args.predictions and rank == 0:
        write_predictions(args, model, items)
    if world > 1:
        torch.distributed.destroy_process_group()
    return losses


def write_predictions(args, model, items):
    """The model's predictions on the held-out split, as `imemnet-c evaluate` reads them: each image's
    and clip's VA (va.csv), each pair's score (scores.csv) and each item's embedding (embeddings.npz)."""
    held_out = split_items(args.predictions_split, data_dir=args.data_dir)
    if items is None:  # trained on decoded pairs: the same arrays, made once per item
        items = preprocess(args.data_dir, image=picture_pixels, audio=clip_spectrum, sampling_rate=RATE)
    images = rows_of(items.images, "image_id", held_out.image_ids)
    clips = rows_of(items.clips, "clip_id", held_out.clip_ids)
    pair_images, pair_clips = [image for _, image in held_out.pairs], [clip for clip, _ in held_out.pairs]
    model.eval()
    with torch.no_grad():
        image_embeddings = model.embed_image(image_inputs(images["pixels"]))
        clip_embeddings = model.embed_clip(clip_inputs(clips["spectrum"], clips["caption"]))
        image_va = torch.sigmoid(model.image_va(image_embeddings)).tolist()
        clip_va = torch.sigmoid(model.clip_va(clip_embeddings)).tolist()
        pairs = {"pixels": images["pixels"][pair_images], "spectrum": clips["spectrum"][pair_clips]}
        scores = model(model_inputs({**pairs, "caption": clips["caption"][pair_clips]}))["score"].tolist()
    os.makedirs(args.predictions, exist_ok=True)
    with open(os.path.join(args.predictions, "va.csv"), "w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows(
            [("id", "valence", "arousal")]
            + [(i, *va) for i, va in zip(held_out.image_ids, image_va, strict=True)]
            + [(c, *va) for c, va in zip(held_out.clip_ids, clip_va, strict=True)]
        )
    with open(os.path.join(args.predictions, "scores.csv"), "w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows(
            [("clip_id", "image_id", "score")]
            + [
                (held_out.clip_ids[clip], held_out.image_ids[image], score)
                for (clip, image), score in zip(held_out.pairs, scores, strict=True)
            ]
        )
    numpy.savez(
        os.path.join(args.predictions, "embeddings.npz"),
        image_ids=numpy.array(held_out.image_ids),
        image_embeddings=image_embeddings.numpy(),
        clip_ids=numpy.array(held_out.clip_ids),
        clip_embeddings=clip_embeddings.numpy(),
    )
    print(f"predictions for the {args.predictions_split} split written to {args.predictions}", flush=True)


def rows_of(dataset, id_column, ids):
    """The columns of the first row of each of `ids` in `dataset`, in that order, as numpy arrays."""
    first = {}
    for row, item_id in enumerate(dataset[id_column]):
        first.setdefault(item_id, row)
    return dataset.select([first[item_id] for item_id in ids]).with_format("numpy")[:]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", default=sample.SAMPLE, help="your downloads (default: the bundled sample)")
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--workers", type=int, default=2, help="DataLoader worker processes per rank")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--cache", action="store_true", help="train on arrays made once per picture and clip")
    parser.add_argument("--checkpoints", help="a folder for checkpoints; a run resumes from it")
    parser.add_argument("--checkpoint-every", type=int, default=0, help="steps between checkpoints")
    parser.add_argument("--stop-after-steps", type=int, default=0, help="stop after this many steps, as if preempted")
    parser.add_argument("--log-pairs", help="a folder for each rank's list of the pairs it trained on")
    parser.add_argument("--predictions", help="a folder for the predictions on the held-out split, after training")
    parser.add_argument("--predictions-split", choices=SPLITS, default="test", help="the held-out split predicted")
    args = parser.parse_args()
    losses = train(args)
    if losses and len(losses) > 1:
        print(f"loss went from {losses[0]:.4f} to {losses[-1]:.4f}")


if __name__ == "__main__":
    main()
