"""An existing Keras LSTM classifier over MNIST rows, compiled with SGD, as a user writes it: no paritybench
import. The LSTM reads an image's 28 rows in order; a ten-way softmax reads its last output."""

import keras


def build_model():
    model = keras.Sequential(
        [
            keras.Input(shape=(28, 28)),
            keras.layers.LSTM(16, name="rnn"),
            keras.layers.Dense(10, activation="softmax", name="out"),
        ]
    )
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.5), loss="sparse_categorical_crossentropy")
    return model
