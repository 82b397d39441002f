import Glibc
import OCF
import OCFTesting

/// A disk every lab node sees, as a SAN disk would be: an ext4 image file on a loop device.
/// Detached in `deinit` (or `detach()`).
public final class LoopDisk {
    public let image: String
    public private(set) var device: String?

    public init(image: String, megabytes: Int = 64) throws {
        self.image = image
        unlink(image)
        let descriptor = open(image, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard descriptor >= 0, ftruncate(descriptor, off_t(megabytes) << 20) == 0 else { throw LabError("cannot create \(image)") }
        close(descriptor)
        let format = try Command("/sbin/mkfs.ext4", ["-q", "-F", image]).run(deadline: .now + .seconds(60))
        guard format.status == 0 else { throw LabError("mkfs.ext4: \(format.errorOutput)") }
        let attach = try Command("/sbin/losetup", ["--find", "--show", image]).run(deadline: .now + .seconds(30))
        guard attach.status == 0 else { throw LabError("losetup: \(attach.errorOutput)") }
        device = attach.output.trimmedLine
    }

    deinit { detach() }

    public func detach() {
        guard let device else { return }
        _ = try? Command("/sbin/losetup", ["-d", device]).run(deadline: .now + .seconds(30))
        self.device = nil
        unlink(image)
    }
}
