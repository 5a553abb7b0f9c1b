"""The seed tutorial's Keras model, trained and timed in its own process.

Run by ``keras_seed.py`` with the Python of the Keras virtual environment
(``tensorflow-cpu`` and ``keras``, never dependencies of the package); it
imports neither torch nor the package. The model follows the Keras tutorial
this library grew from ("Text classification with Transformer"): token and
position embeddings, ``TransformerBlock``s (``MultiHeadAttention`` with
``key_dim=embed_dim``, a ReLU feed-forward, dropout and a post-LayerNorm with
``epsilon=1e-6`` after each residual), global average pooling, dropout, a
20-unit ReLU layer, dropout and a softmax head; Adam at its default
learning rate and sparse categorical cross-entropy, as in the tutorial.
Sequences are padded to ``max_len`` and, as in the tutorial, the padding is
not masked.

Usage: ``python _keras_child.py DATA.npz SEED EPOCHS EMBED HEADS LAYERS FF``
prints one JSON line with the accuracy, per-epoch wall and CPU seconds,
predict documents per second and peak memory.
"""

import json
import os
import sys
import time

# One thread, set before TensorFlow loads.
for _name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_name] = "1"
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

tf.config.threading.set_intra_op_parallelism_threads(1)
tf.config.threading.set_inter_op_parallelism_threads(1)

import keras  # noqa: E402
from keras import layers  # noqa: E402

BATCH_SIZE = 32
PREDICT_BATCH_SIZE = 256


def peak_rss_mib():
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")


class TransformerBlock(layers.Layer):
    """Post-LayerNorm encoder block of the tutorial."""

    def __init__(self, embed_dim, num_heads, ff_dim, rate=0.1, **kwargs):
        super().__init__(**kwargs)
        self.attention = layers.MultiHeadAttention(
            num_heads=num_heads, key_dim=embed_dim
        )
        self.feed_forward = keras.Sequential(
            [layers.Dense(ff_dim, activation="relu"), layers.Dense(embed_dim)]
        )
        self.norm_attention = layers.LayerNormalization(epsilon=1e-6)
        self.norm_feed_forward = layers.LayerNormalization(epsilon=1e-6)
        self.drop_attention = layers.Dropout(rate)
        self.drop_feed_forward = layers.Dropout(rate)

    def call(self, inputs, training=None):
        attended = self.attention(inputs, inputs)
        attended = self.drop_attention(attended, training=training)
        hidden = self.norm_attention(inputs + attended)
        transformed = self.feed_forward(hidden)
        transformed = self.drop_feed_forward(transformed, training=training)
        return self.norm_feed_forward(hidden + transformed)


class TokenAndPositionEmbedding(layers.Layer):
    """Learned token embeddings plus learned position embeddings."""

    def __init__(self, max_len, vocab_size, embed_dim, **kwargs):
        super().__init__(**kwargs)
        self.tokens = layers.Embedding(input_dim=vocab_size, output_dim=embed_dim)
        self.positions = layers.Embedding(input_dim=max_len, output_dim=embed_dim)

    def call(self, x):
        positions = keras.ops.arange(0, keras.ops.shape(x)[-1], 1)
        return self.tokens(x) + self.positions(positions)


def build_model(vocab_size, max_len, embed_dim, num_heads, num_layers, ff_dim):
    inputs = layers.Input(shape=(max_len,), dtype="int32")
    x = TokenAndPositionEmbedding(max_len, vocab_size, embed_dim)(inputs)
    for _ in range(num_layers):
        x = TransformerBlock(embed_dim, num_heads, ff_dim)(x)
    x = layers.GlobalAveragePooling1D()(x)
    x = layers.Dropout(0.1)(x)
    x = layers.Dense(20, activation="relu")(x)
    x = layers.Dropout(0.1)(x)
    outputs = layers.Dense(2, activation="softmax")(x)
    model = keras.Model(inputs=inputs, outputs=outputs)
    model.compile(
        optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"]
    )
    return model


class EpochClock(keras.callbacks.Callback):
    """Wall and CPU seconds of every epoch (nothing else runs inside them)."""

    def __init__(self):
        super().__init__()
        self.wall, self.cpu = [], []

    def on_epoch_begin(self, epoch, logs=None):
        self._start = (time.perf_counter(), time.process_time())

    def on_epoch_end(self, epoch, logs=None):
        self.wall.append(time.perf_counter() - self._start[0])
        self.cpu.append(time.process_time() - self._start[1])


def main(argv):
    path, seed, epochs, embed_dim, num_heads, num_layers, ff_dim = argv
    data = np.load(path)
    x_train, y_train = data["x_train"], data["y_train"]
    x_test, y_test = data["x_test"], data["y_test"]
    vocab_size, max_len = int(data["vocab_size"]), x_train.shape[1]
    after_imports = peak_rss_mib()
    keras.utils.set_random_seed(int(seed))
    model = build_model(
        vocab_size,
        max_len,
        int(embed_dim),
        int(num_heads),
        int(num_layers),
        int(ff_dim),
    )
    clock = EpochClock()
    model.fit(
        x_train,
        y_train,
        batch_size=BATCH_SIZE,
        epochs=int(epochs),
        shuffle=True,
        verbose=0,
        callbacks=[clock],
    )
    predict_s = []
    for _ in range(3):
        start = time.perf_counter()
        proba = model.predict(x_test, batch_size=PREDICT_BATCH_SIZE, verbose=0)
        predict_s.append(time.perf_counter() - start)
    accuracy = float(np.mean(proba.argmax(axis=1) == y_test))
    result = {
        "accuracy": accuracy,
        "epoch_wall": clock.wall,
        "epoch_cpu": clock.cpu,
        "predict_docs_per_s": len(x_test) / float(np.median(predict_s)),
        "rss_after_imports": after_imports,
        "rss_peak": peak_rss_mib(),
        "versions": f"tensorflow {tf.__version__}, keras {keras.__version__}",
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main(sys.argv[1:])
