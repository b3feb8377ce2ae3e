"""Trains a tiny image-music matching model the way MMVA does: random image-music pairs of the
training split, scored by the similarity of their valence and arousal (imemnet_c_tools.pairs, whose
default kernel is an assumption: see its docstring), decoded by datasets inside the DataLoader's
workers: pictures as tensors of one size, audio as mono at one sampling rate (datasets' Audio
feature resamples), captions as text. Each epoch draws new pairs; the loss goes down.

    python examples/train_mmva.py [--data-dir data/sample] [--epochs 4] [--workers 2]
"""

import argparse
import os
import zlib

import numpy
import torch

from imemnet_c_tools.pairs import va_pairs

SIDE, RATE, SECONDS, WORDS, VOCABULARY = 32, 16000, 0.25, 16, 1024
SAMPLE = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "data", "sample")


def to_arrays(pair):
    """Runs in the DataLoader's workers, on a decoded pair: fixed-size arrays a batch can stack."""
    picture = pair["image"].convert("RGB").resize((SIDE, SIDE))
    audio = numpy.asarray(pair["audio"]["array"], numpy.float32)
    if audio.ndim == 2:  # (channels, samples) where datasets keeps the channels
        audio = audio.mean(axis=0)
    audio = numpy.resize(audio, int(RATE * SECONDS))  # crop or repeat to one length
    words = [zlib.crc32(word.encode()) % VOCABULARY for word in pair["caption"].lower().split()][:WORDS]
    return {
        "image": numpy.asarray(picture, numpy.float32).transpose(2, 0, 1) / 255,
        "audio": spectrum(audio),
        "words": numpy.array(words + [0] * (WORDS - len(words)), numpy.int64),
        "score": numpy.float32(pair["score"]),
    }


def spectrum(audio, bins=256):
    """The clip's log magnitude spectrum in `bins` bands, standardised."""
    bands = numpy.log1p(numpy.abs(numpy.fft.rfft(audio))[: bins * 4]).reshape(bins, -1).mean(axis=1)
    return ((bands - bands.mean()) / (bands.std() + 1e-6)).astype(numpy.float32)


class Matcher(torch.nn.Module):
    """An image, a clip and its caption embedded, and the pair's score predicted from them."""

    def __init__(self, width=16):
        super().__init__()
        self.image = torch.nn.Sequential(
            torch.nn.Conv2d(3, 8, 5, stride=2), torch.nn.ReLU(), torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten()
        )
        self.image_out = torch.nn.Linear(8, width)
        self.audio = torch.nn.Linear(256, width)
        self.words = torch.nn.EmbeddingBag(VOCABULARY, width)
        self.head = torch.nn.Linear(3 * width, 1)

    def forward(self, batch):
        parts = [self.image_out(self.image(batch["image"])), self.audio(batch["audio"]), self.words(batch["words"])]
        return torch.sigmoid(self.head(torch.cat(parts, dim=1))).squeeze(1)


def train(data_dir, epochs, workers, batch_size=8, pairs_per_item=8, seed=0):
    """The mean loss of each epoch."""
    torch.manual_seed(seed)
    model = Matcher()
    optimiser = torch.optim.Adam(model.parameters(), lr=0.01)
    losses = []
    for epoch in range(epochs):
        pairs = va_pairs(
            data_dir, split="train", seed=seed, epoch=epoch, pairs_per_item=pairs_per_item, sampling_rate=RATE
        )
        batches = torch.utils.data.DataLoader(
            pairs.map(to_arrays, remove_columns=["image_id", "clip_id", "image", "audio", "caption"]),
            batch_size=batch_size,
            num_workers=workers,
        )
        epoch_losses = []
        for batch in batches:
            loss = torch.nn.functional.mse_loss(model(batch), batch["score"])
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            epoch_losses.append(loss.item())
        losses.append(sum(epoch_losses) / len(epoch_losses))
        print(f"epoch {epoch}: {len(epoch_losses)} batches, mean loss {losses[-1]:.4f}", flush=True)
    return losses


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", default=SAMPLE, help="your downloads (default: the bundled sample)")
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--workers", type=int, default=2, help="DataLoader worker processes")
    args = parser.parse_args()
    losses = train(args.data_dir, args.epochs, args.workers)
    print(f"loss went from {losses[0]:.4f} to {losses[-1]:.4f}")


if __name__ == "__main__":
    main()
