"""An existing Keras LSTM regression, compiled with SGD, as a user writes it: no paritybench import."""

import keras


def build_model():
    model = keras.Sequential(
        [
            keras.Input(shape=(12, 3)),
            keras.layers.LSTM(8, name="rnn"),
            keras.layers.Dense(2, name="out"),
        ]
    )
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.1), loss="mse")
    return model
