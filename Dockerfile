# Container images of Berth's two cluster components, from the static binaries `make build` puts in _output/bin
# (CGO_ENABLED=0), so that no registry or base image is needed:
#   podman build --target scheduler -t localhost/berth/scheduler:dev .
#   podman build --target kubelet   -t localhost/berth/kubelet:dev .
# (`make container-images` does both.)
FROM scratch AS scheduler
COPY _output/bin/berth-scheduler /berth-scheduler
USER 65532:65532
ENTRYPOINT ["/berth-scheduler"]

FROM scratch AS kubelet
COPY _output/bin/berth-kubelet /berth-kubelet
USER 65532:65532
ENTRYPOINT ["/berth-kubelet"]
