"""An existing Keras multi-label classifier, as a user writes it: no paritybench import. Four sigmoid outputs,
one per label, and binary cross-entropy on them, compiled with SGD."""

import keras


def build_model():
    model = keras.Sequential(
        [
            keras.Input(shape=(10,)),
            keras.layers.Dense(16, name="hidden"),
            keras.layers.Activation("relu", name="relu"),
            keras.layers.Dense(4, activation="sigmoid", name="out"),
        ]
    )
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.5), loss="binary_crossentropy")
    return model
